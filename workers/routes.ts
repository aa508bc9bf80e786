import { adminRoutes } from "./admin/routes";
import { authRoutes } from "./auth/routes";
import { eventRoutes } from "./events/routes";
import { healthRoutes } from "./health";
import { userRoutes } from "./pbx/users";
import type { Route } from "./routing/route";

/** Every route the API serves; the router and the OpenAPI document are both built from this list. */
export const routes: Route[] = [...healthRoutes, ...authRoutes, ...adminRoutes, ...eventRoutes, ...userRoutes];
