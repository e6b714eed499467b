/**
 * Who is signed in (GET /users/me) and what the token may do, for every page: actions a token lacks
 * are not offered. The frame (routes/Layout.tsx) reads it once per sign-in and provides it.
 */
import { createContext, useContext } from "react";
import type { CallerInfo } from "./types";

export const CallerContext = createContext<CallerInfo | null>(null);

/** Whether the signed-in token has `permission` (the admin token has them all). */
export type Can = (permission: string) => boolean;

/** The signed-in caller's permission check; before the caller is known, nothing is allowed. */
export function useCan(): Can {
  const info = useContext(CallerContext);
  return (permission) => !!info && (info.caller.type === "admin" || info.permissions.includes(permission));
}

/** The signed-in caller, once known. */
export function useCaller(): CallerInfo | null {
  return useContext(CallerContext);
}
