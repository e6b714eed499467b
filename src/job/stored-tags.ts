/**
 * How a job run's stored values are tagged: by their first character, so a user's JSON can never
 * pass for a reference. A leaf, shared by the store and the modules that read its rows raw.
 */
export const JSON_TAG = "j";
export const REF_TAG = "r";
export const BLOB_TAG = "b";
