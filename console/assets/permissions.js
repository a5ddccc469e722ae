// Who may do what to a request, mirrored from the API's rules (layers/oversight/oversight/lifecycle.py and auth.py) so
// that the console can disable a button and say why before anyone clicks. The API stays the judge: a refusal it sends
// anyway is shown with its own message.

export const OPEN_STATUSES = Object.freeze(["PENDING", "IN_PROGRESS"]);
export const CLOSED_STATUSES = Object.freeze(["APPROVED", "REJECTED", "CANCELLED", "EXPIRED", "COMPLETED"]);
export const PRIORITIES = Object.freeze(["critical", "high", "normal", "low"]);
export const TYPES = Object.freeze(["kill_switch", "clarification", "waive_violation", "resume", "cancel", "approval"]);
export const ACTIONS = Object.freeze(["claim", "release", "approve", "reject", "cancel", "complete"]);

// lifecycle.RULES: the states each action starts from.
const SOURCES = {
  claim: ["PENDING"],
  release: ["IN_PROGRESS"],
  approve: OPEN_STATUSES,
  reject: OPEN_STATUSES,
  cancel: OPEN_STATUSES,
  complete: ["APPROVED"],
};
// lifecycle._REFUSED_WHEN_OVERDUE: refused once expires_at has passed, even before the sweep ran.
const REFUSED_WHEN_OVERDUE = new Set(["claim", "approve", "reject"]);

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
  if (holds(user, record.required_role)) {
    return true;
  }
  const escalation = record.escalation;
  return Boolean(record.escalated_at && escalation && escalation.to_role && holds(user, escalation.to_role));
}

function quorum(record) {
  return Number(record.required_approvals || 1);
}

function approvedByUser(record, user) {
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
      return refuse(`You lack the role ${record.required_role}`);
    }
  } else if (action === "release") {
    if (record.status === "IN_PROGRESS" && !(admin || user.sub === record.assigned_to)) {
      return refuse(`Claimed by ${record.assigned_to}: only they or an admin can release it`);
    }
  } else if (action === "cancel" || action === "complete") {
    if (!(admin || creator)) {
      return refuse(`Only its creator (${record.created_by}) or an admin can ${action} it`);
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
    return refuse("You already approved it");
  }
  return { allowed: true, reason: "" };
}

/** Every action's permission, keyed by action name. */
export function permissions(record, user, now = Date.now()) {
  return Object.fromEntries(ACTIONS.map((action) => [action, permission(action, record, user, now)]));
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
  if (claim.allowed || approve.allowed) {
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
