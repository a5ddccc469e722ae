// Reading a view of the inbox page by page: the API's order, the API's cursors. A view is one or more list queries read
// one after the other; `keep` drops records a query cannot exclude server-side. The contract's `status=OPEN` and
// `required_role` filter are asked for; an API that refuses one of them (a 422 naming `query.status` or
// `query.required_role`) is asked again without it: OPEN becomes PENDING then IN_PROGRESS (the same records, pending
// first), and `required_role` is then applied by `keep` to the pages read.

import { ApiError } from "./api.js";

const MAX_PAGE = 100;
// Reads per take() before giving back what was found: a `keep` that drops most records must not read forever.
const MAX_READS = 10;
// Parameters of the contract that an API may not know yet, each asked for until it is refused once.
const OPTIONAL = ["status", "required_role"];

const refused = new Set();

function refusedParameter(error, query) {
  if (!(error instanceof ApiError) || error.status !== 422) {
    return null;
  }
  for (const detail of error.details || []) {
    const loc = Array.isArray(detail && detail.loc) ? detail.loc.map(String) : [];
    const name = loc[0] === "query" ? loc[1] : null;
    if (name && OPTIONAL.includes(name) && !refused.has(name) && (name !== "status" || query.status === "OPEN")) {
      return name;
    }
  }
  return null;
}

/** The queries to send: OPEN expanded and refused parameters left out. */
function expand(queries) {
  return queries.flatMap((query) => {
    const sent = { ...query };
    if (refused.has("required_role")) {
      delete sent.required_role;
    }
    if (refused.has("status") && sent.status === "OPEN") {
      const order = sent.assigned_to ? ["IN_PROGRESS", "PENDING"] : ["PENDING", "IN_PROGRESS"];
      return order.map((status) => ({ ...sent, status }));
    }
    return [sent];
  });
}

export class ListSource {
  /** queries: list queries without limit/cursor; keep(record) → boolean filters what the API cannot. */
  constructor(api, queries, keep = () => true) {
    this.api = api;
    this.original = queries;
    this.queries = expand(queries);
    this.keep = keep;
    this.index = 0;
    this.cursor = null;
  }

  get more() {
    return this.index < this.queries.length;
  }

  /** Up to `count` more records (fewer when the view ends or after MAX_READS reads): {items, more}. */
  async take(count) {
    const items = [];
    let reads = 0;
    while (items.length < count && this.more && reads < MAX_READS) {
      reads += 1;
      const query = this.queries[this.index];
      let page;
      try {
        page = await this.api.get("/interventions", {
          ...query, limit: Math.min(MAX_PAGE, Math.max(1, count - items.length)), cursor: this.cursor || undefined,
        });
      } catch (error) {
        const name = this.index === 0 && !this.cursor ? refusedParameter(error, query) : null;
        if (name) {
          refused.add(name);
          this.queries = expand(this.original);
          this.index = 0;
          this.cursor = null;
          continue;
        }
        throw error;
      }
      items.push(...(page.items || []).filter(this.keep));
      if (page.next_cursor) {
        this.cursor = page.next_cursor;
      } else {
        this.index += 1;
        this.cursor = null;
      }
    }
    return { items, more: this.more };
  }
}
