/** The test client inside workerd: requests go straight to the Worker under test. */
import { SELF } from "cloudflare:test";
import { TestClient } from "./client";

export const ADMIN_TOKEN = "test-admin-token";
export const admin = new TestClient((url, init) => SELF.fetch(url, init), "https://canopy.test", ADMIN_TOKEN);
export const anonymous = admin.as(undefined);
