/** Organization secrets. Until they can be stored (the integrations work), no secret exists. */
export async function readOrganizationSecret(_env: Env, _organizationId: string, _key: string): Promise<string | undefined> {
  return undefined;
}
