// What a portal SPA and a partner company's system call, typed from the published OpenAPI document:
// "portal-api" is openapi-typescript's output for it (tsconfig.json maps the name), so this type-checks
// only while the document declares every path, parameter, body and field used here.
import createClient from "openapi-fetch";
import type { components, paths } from "portal-api";

type Schemas = components["schemas"];
export type Problem = Schemas["Problem"];
export type PortalClient = ReturnType<typeof portalClient>;

export function portalClient(baseUrl: string, token: string) {
  return createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });
}

/** A refusal: the API's problem+json (its code in `type`, the fields at fault in `errors`), or the
 * gateway's own `{message}` body when it refused the token before any function ran. */
export class ApiError extends Error {
  readonly problem: Problem | null;

  constructor(
    readonly status: number,
    body: Problem | Schemas["GatewayRefusal"],
  ) {
    super("type" in body ? `${body.status} ${body.type}: ${body.detail}` : `${status} ${body.message}`);
    this.problem = "type" in body ? body : null;
  }

  get code(): string | null {
    return this.problem?.type.replace("/problems/", "") ?? null;
  }

  /** Message by field, e.g. {"body.phone": "..."}. */
  get fields(): Record<string, string> {
    return Object.fromEntries((this.problem?.errors ?? []).map((e) => [e.field, e.message]));
  }
}

/** Every item of a listing, page by page: each page's next_cursor asks for the next, null on the last. */
export async function* everyItem<T>(
  page: (cursor: string | null) => Promise<{ items: T[]; next_cursor: string | null }>,
): AsyncGenerator<T> {
  let cursor: string | null = null;
  do {
    const { items, next_cursor } = await page(cursor);
    yield* items;
    cursor = next_cursor;
  } while (cursor !== null);
}

export function myOrganisations(api: PortalClient): AsyncGenerator<Schemas["MyOrganisation"]> {
  return everyItem(async (cursor) => {
    const { data, error, response } = await api.GET("/orgs", { params: { query: { cursor } } });
    if (error) throw new ApiError(response.status, error);
    return data;
  });
}

export function leadsIn(
  api: PortalClient,
  orgId: string,
  status: Schemas["LeadStatus"],
  limit = 50,
): AsyncGenerator<Schemas["LeadSummary"]> {
  return everyItem(async (cursor) => {
    const { data, error, response } = await api.GET("/orgs/{org_id}/leads", {
      params: { path: { org_id: orgId }, query: { status, cursor, limit } },
    });
    if (error) throw new ApiError(response.status, error);
    return data;
  });
}

/** What staff may pick as a lead's source: the self-generated source first, then active lead sellers. */
export async function leadSources(api: PortalClient, orgId: string): Promise<Schemas["Source"][]> {
  const { data, error, response } = await api.GET("/orgs/{org_id}/sources", {
    params: { path: { org_id: orgId }, query: { for: "leads" } },
  });
  if (error) throw new ApiError(response.status, error);
  return data.items;
}

/** Staff enter a lead by hand from a source; an invalid phone comes back as a problem naming body.phone. */
export async function enterLead(
  api: PortalClient,
  orgId: string,
  contactName: string,
  phone: string,
  sourceId = "self-generated",
): Promise<Schemas["Lead"] | { invalid: Record<string, string> }> {
  const { data, error, response } = await api.POST("/orgs/{org_id}/leads", {
    params: { path: { org_id: orgId } },
    body: { contact_name: contactName, phone, source_id: sourceId },
  });
  if (error) {
    const refusal = new ApiError(response.status, error);
    if (refusal.code === "invalid-input") return { invalid: refusal.fields };
    throw refusal;
  }
  return data;
}

/** The next ready lead from the queue, now assigned to the caller; null when none is ready (204). */
export async function claimNextLead(api: PortalClient, orgId: string): Promise<Schemas["Lead"] | null> {
  const { data, error, response } = await api.POST("/orgs/{org_id}/lead-queue/claims", {
    params: { path: { org_id: orgId } },
  });
  if (error) throw new ApiError(response.status, error);
  return data ?? null;
}

/** A partner company's system posts a lead with its client-credentials token. */
export async function postCompanyLead(
  api: PortalClient,
  orgId: string,
  companyId: string,
  lead: Schemas["IntakeLead"],
): Promise<{ leadId: string; duplicate: boolean }> {
  const { data, error, response } = await api.POST("/orgs/{org_id}/partner-companies/{company_id}/leads", {
    params: { path: { org_id: orgId, company_id: companyId } },
    body: lead,
  });
  if (error) throw new ApiError(response.status, error);
  // 200: this external_id was posted before, and the receipt is the one of the lead created then.
  return { leadId: data.lead_id, duplicate: response.status === 200 };
}

/** A partner's home screen: their account, and their wallet in each organisation not archived. */
export async function partnerHome(api: PortalClient) {
  const me = await api.GET("/me/partner");
  if (me.error) throw new ApiError(me.response.status, me.error);
  const { account, organisations } = me.data;
  const wallets = [];
  for (const organisation of organisations.filter((o) => o.status !== "ARCHIVED")) {
    const { data, error, response } = await api.GET("/orgs/{org_id}/portal/wallet", {
      params: { path: { org_id: organisation.org_id } },
    });
    if (error) throw new ApiError(response.status, error);
    wallets.push({
      organisation: organisation.org_name ?? organisation.org_id,
      currency: data.currency,
      available: data.available,
      requested: data.open_request?.amount ?? 0,
    });
  }
  return { name: account.name, confirmed: account.email_confirmed, wallets };
}
