// Keeps the console current without a reload, cheaply: every few seconds, and only while the tab is visible, one
// GET /stats (a constant-cost read: the counter shards, whatever the number of records). Its totals change with every
// creation and every status move, so the inbox re-reads its list only when something changed (or now and then, for the
// changes no counter sees). The same figures give the tab title its count of open requests, and a rise in the totals
// is when the opt-in browser notifications look for new critical and high requests.

const INTERVAL_MS = 3000;
const NOTIFY_KEY = "oversight.notify";
const NOTIFIED_PRIORITIES = ["critical", "high"];
// Pending requests read per priority when the totals rise: a new one is announced while fewer than this many of its
// priority wait before it (the queue lists the oldest first).
const NOTIFY_WINDOW = 100;
const TITLE = "Oversight";

function fingerprint(stats) {
  const figures = stats && stats.interventions ? stats.interventions : {};
  return JSON.stringify([figures.total, figures.by_status]);
}

/**
 * Starts watching. `api` is an API client whose 503 retries stay silent (a background poll must not flood the page with
 * notices); onOpenCount(n) receives the count of open requests; openRequest(id) opens one (a notification's click).
 * Returns {subscribe(fn) → unsubscribe, refresh(), stop(), notifications: {...}}. Subscribers get {changed, tick}.
 */
export function startLive(api, { onOpenCount, openRequest } = {}) {
  const listeners = new Set();
  // Ids of the critical and high requests already seen waiting (null: not read yet).
  let known = null;
  let last = null;
  let lastTotal = null;
  let settle = 0;
  let tick = 0;
  let timer = null;
  let running = false;
  let stopped = false;

  async function waiting() {
    const found = [];
    for (const priority of NOTIFIED_PRIORITIES) {
      const page = await api.get("/interventions", { status: "PENDING", priority, limit: NOTIFY_WINDOW });
      found.push(...(page.items || []));
    }
    return found;
  }

  /** What is already waiting when notifications start: never announced (only what arrives later is news). */
  async function takeBaseline() {
    try {
      known = new Set((await waiting()).map((item) => item.id));
    } catch {
      known = null;
    }
  }

  async function checkNotifications() {
    if (!notificationsOn()) {
      return;
    }
    if (known === null) {
      await takeBaseline();
      return;
    }
    let items;
    try {
      items = await waiting();
    } catch {
      return;
    }
    for (const item of items) {
      if (known.has(item.id)) {
        continue;
      }
      known.add(item.id);
      const label = item.priority === "critical" ? "Critical" : "High";
      const note = new Notification(`${label} request: ${item.title}`, {
        body: `${item.type} · needs ${item.required_role}`,
        tag: `oversight-${item.id}`,
      });
      note.addEventListener("click", () => {
        window.focus();
        if (openRequest) {
          openRequest(item.id);
        }
        note.close();
      });
    }
  }

  async function poll() {
    if (running || stopped) {
      return;
    }
    running = true;
    try {
      const stats = await api.get("/stats");
      if (stopped) {
        return;
      }
      tick += 1;
      const print = fingerprint(stats);
      let changed = last !== null && print !== last;
      if (changed) {
        // Lists are read from indexes that may trail the counters by a moment: read again on the next tick too.
        settle = 1;
      } else if (settle > 0) {
        settle -= 1;
        changed = true;
      }
      last = print;
      const figures = stats.interventions || {};
      if (onOpenCount && Number.isFinite(figures.open)) {
        onOpenCount(figures.open);
      }
      const total = Number(figures.total);
      if (lastTotal !== null && total > lastTotal) {
        await checkNotifications();
      }
      lastTotal = total;
      for (const listener of [...listeners]) {
        listener({ changed, tick });
      }
    } catch {
      // The next tick tries again; a 401 has already sent the user back to sign-in.
    } finally {
      running = false;
    }
  }

  function schedule() {
    clearInterval(timer);
    timer = null;
    if (!stopped && document.visibilityState === "visible") {
      timer = setInterval(poll, INTERVAL_MS);
    }
  }

  function onVisibility() {
    schedule();
    if (document.visibilityState === "visible") {
      poll();
    }
  }

  document.addEventListener("visibilitychange", onVisibility);
  schedule();
  poll();
  if (notificationsOn()) {
    takeBaseline();
  }

  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    /** Notifications were just turned on: what waits now is not news. */
    notificationsChanged() {
      known = null;
      if (notificationsOn()) {
        takeBaseline();
      }
    },
    /** Polls now (e.g. right after this user changed something) instead of at the next tick. */
    refresh() {
      poll();
    },
    stop() {
      stopped = true;
      clearInterval(timer);
      document.removeEventListener("visibilitychange", onVisibility);
      listeners.clear();
      document.title = TITLE;
    },
  };
}

export function notificationsSupported() {
  return typeof Notification !== "undefined";
}

export function notificationsOn() {
  return notificationsSupported() && Notification.permission === "granted" && localStorage.getItem(NOTIFY_KEY) === "on";
}

/** Asks the browser for permission (only ever from a click) and remembers the choice; resolves to the new state. */
export async function setNotifications(wanted) {
  if (!notificationsSupported()) {
    return false;
  }
  if (!wanted) {
    localStorage.setItem(NOTIFY_KEY, "off");
    return false;
  }
  const permission = Notification.permission === "granted" ? "granted" : await Notification.requestPermission();
  localStorage.setItem(NOTIFY_KEY, permission === "granted" ? "on" : "off");
  return permission === "granted";
}

export function titleWithCount(count) {
  return count > 0 ? `(${count}) ${TITLE}` : TITLE;
}
