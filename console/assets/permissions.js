// Who may do what to a request, mirrored from the API's rules (layers/oversight/oversight/lifecycle.py and auth.py) so
// that the console can disable a button and say why before anyone clicks. The API stays the judge: a refusal it sends
// anyway is shown with its own message.

export const OPEN_STATUSES = Object.freeze(["PENDING", "IN_PROGRESS"]);
export const CLOSED_STATUSES = Object.freeze(["APPROVED", "REJECTED", "CANCELLED", "EXPIRED", "COMPLETED"]);
export const PRIORITIES = Object.freeze(["critical", "high", "normal", "low"]);
export const TYPES = Object.freeze(["kill_switch", "clarification", "waive_violation", "resume", "cancel", "approval"]);
// The buttons of the decision panel, in their order; Assign and Comment have fields of their own.
export const ACTIONS = Object.freeze(["claim", "release", "approve", "reject", "cancel", "complete"]);
export const ALL_ACTIONS = Object.freeze([...ACTIONS, "assign", "comment"]);

// lifecycle.RULES: the states each action starts from.
const SOURCES = {
  claim: ["PENDING"],
  release: ["IN_PROGRESS"],
  approve: OPEN_STATUSES,
  reject: OPEN_STATUSES,
  cancel: OPEN_STATUSES,
  complete: ["APPROVED"],
  assign: OPEN_STATUSES,
  // A comment is taken in any state, open or closed.
  comment: [...OPEN_STATUSES, ...CLOSED_STATUSES],
};
// Refused once expires_at has passed, even before the sweep ran (a comment is not).
const REFUSED_WHEN_OVERDUE = new Set(["claim", "approve", "reject", "assign"]);

const STATE_WORDS = {
  PENDING: "pending",
  IN_PROGRESS: "in progress",
  APPROVED: "approved",
  REJECTED: "rejected",
  CANCELLED: "cancelled",
  EXPIRED: "expired",
  COMPLETED: "completed",
};

/** Human words for a status: "in progress" for IN_PROGRESS. */
export function statusWords(status) {
  return STATE_WORDS[status] || String(status || "").toLowerCase();
}

export function isOpen(record) {
  return OPEN_STATUSES.includes(record.status);
}

export function isExpired(record, now = Date.now()) {
  const at = Date.parse(record.expires_at);
  return Number.isFinite(at) && now >= at;
}

function holds(user, role) {
  return user.roles.includes(role) || user.roles.includes("admin");
}

/** Holds the required role, or (once the request escalated) the escalation's role, or is admin. */
function eligible(user, record) {
  const role = escalationRole(record);
  return holds(user, record.required_role) || Boolean(role && holds(user, role));
}

/** "You lack the role finance", with the escalation's role when the user will be able to act once it escalates. */
function lackingRole(user, record) {
  const escalation = record.escalation;
  if (!record.escalated_at && escalation && escalation.to_role && holds(user, escalation.to_role)) {
    return `You lack the role ${record.required_role} until it escalates to ${escalation.to_role}`;
  }
  return `You lack the role ${record.required_role}`;
}

/** How many distinct approvals the request needs (`required_approvals`, 1 when the record predates quorums). */
export function quorum(record) {
  return Number(record.required_approvals || 1);
}

/** The role whose holders may act besides the required one: the escalation's, once the request escalated. */
function escalationRole(record) {
  const escalation = record.escalation;
  return record.escalated_at && escalation && escalation.to_role ? escalation.to_role : null;
}

/** Whether `user` ({sub}) is among the request's approvers already. */
export function approvedByUser(record, user) {
  return Array.isArray(record.approvals) && record.approvals.some((approval) => approval && approval.user === user.sub);
}

function stateReason(action, record) {
  if (action === "release" && record.status === "PENDING") {
    return "Not claimed by anyone";
  }
  if (action === "complete" && OPEN_STATUSES.includes(record.status)) {
    return "Only an approved request can be completed";
  }
  return `Not possible: it is ${statusWords(record.status)}`;
}

/**
 * {allowed, reason} for `action` on `record` by `user` ({sub, roles}) at `now` (ms): the first rule that refuses, in
 * the API's order (who the caller is, then the state, then the claim), worded for the person reading it.
 */
export function permission(action, record, user, now = Date.now()) {
  const admin = user.roles.includes("admin");
  const creator = user.sub === record.created_by;
  const refuse = (reason) => ({ allowed: false, reason });
  if (action === "claim" || action === "approve" || action === "reject") {
    if (creator) {
      return refuse("You created it: its creator cannot claim or decide it");
    }
    if (!eligible(user, record)) {
      return refuse(lackingRole(user, record));
    }
  } else if (action === "release") {
    if (record.status === "IN_PROGRESS" && !(admin || user.sub === record.assigned_to)) {
      return refuse(`Claimed by ${record.assigned_to}: only they or an admin can release it`);
    }
  } else if (action === "cancel" || action === "complete") {
    if (!(admin || creator)) {
      return refuse(`Only its creator (${record.created_by}) or an admin can ${action} it`);
    }
  } else if (action === "assign") {
    // Delegation: an admin hands it to anyone, the assignee hands it on; whom to is checked when it is sent.
    if (!(admin || (record.assigned_to && user.sub === record.assigned_to))) {
      return refuse(record.assigned_to
        ? `Only its assignee (${record.assigned_to}) or an admin can assign it`
        : "Only an admin can assign it");
    }
  } else if (action === "comment") {
    // auth.Principal.require_member: any role of the tenant.
    if (!user.roles.length) {
      return refuse("You hold no role in this tenant");
    }
  } else {
    return refuse("Unknown action");
  }
  if (!SOURCES[action].includes(record.status)) {
    return refuse(stateReason(action, record));
  }
  if (REFUSED_WHEN_OVERDUE.has(action) && isExpired(record, now)) {
    return refuse(`Expired at ${new Date(Date.parse(record.expires_at)).toLocaleString()}`);
  }
  if ((action === "approve" || action === "reject") && record.status === "IN_PROGRESS" && quorum(record) <= 1
      && !(admin || user.sub === record.assigned_to)) {
    return refuse(`Claimed by ${record.assigned_to}`);
  }
  if (action === "approve" && approvedByUser(record, user)) {
    return refuse("You approved already");
  }
  return { allowed: true, reason: "" };
}

/** Every action's permission (the six buttons, Assign and Comment), keyed by action name. */
export function permissions(record, user, now = Date.now()) {
  return Object.fromEntries(ALL_ACTIONS.map((action) => [action, permission(action, record, user, now)]));
}

/**
 * Whether `target` may be given the request by Assign: {allowed, reason}. The API refuses (422) its creator, who may
 * never decide it; the target's roles are not known to the console (nor checked by the API when assigning).
 */
export function assignee(record, target) {
  const user = String(target || "").trim();
  if (!user) {
    return { allowed: false, reason: "Write whom to assign it to" };
  }
  if (user.length > 256) {
    return { allowed: false, reason: "At most 256 characters" };
  }
  if (user === record.created_by) {
    return { allowed: false, reason: `${user} created it: its creator may never decide it` };
  }
  return { allowed: true, reason: "" };
}

/**
 * Whether the user can work this request (claim or decide it) and, if not, a short reason for the inbox row
 * ("needs role finance", "you created it", "claimed by bob", "expired"); closed requests are simply closed.
 */
export function actionability(record, user, now = Date.now()) {
  if (!isOpen(record)) {
    return { actionable: false, reason: "" };
  }
  const claim = permission("claim", record, user, now);
  const approve = permission("approve", record, user, now);
  // Someone who approved already has nothing left to do on it, even though claiming it is still open to them.
  if (approve.allowed || (claim.allowed && !approvedByUser(record, user))) {
    return { actionable: true, reason: "" };
  }
  if (user.sub === record.created_by) {
    return { actionable: false, reason: "you created it" };
  }
  if (!eligible(user, record)) {
    return { actionable: false, reason: `needs role ${record.required_role}` };
  }
  if (isExpired(record, now)) {
    return { actionable: false, reason: "expired" };
  }
  if (record.status === "IN_PROGRESS" && record.assigned_to) {
    return { actionable: false, reason: `claimed by ${record.assigned_to}` };
  }
  return { actionable: false, reason: approve.reason.toLowerCase() };
}

/**
 * Whether `user` may manage the tenant's webhook subscriptions: {allowed, reason}. The API allows admins only (any
 * other role is a 403 `forbidden`); the reason says so to whoever opens the page without the role.
 */
export function webhookPermission(user) {
  const roles = (user && user.roles) || [];
  if (roles.includes("admin")) {
    return { allowed: true, reason: "" };
  }
  const held = roles.length ? `you hold ${roles.join(", ")}` : "you hold no role";
  const tenant = user && user.tenant ? ` in the tenant ${user.tenant}` : "";
  return { allowed: false, reason: `Only admins can see and change webhook subscriptions: ${held}${tenant}.` };
}
