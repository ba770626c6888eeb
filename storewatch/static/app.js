// The admin app's entry point: the shell (menu, log out), routing with the history API,
// and the login guard. Each page is a module in pages/ exporting `render(main, context)`,
// which may return a function that stops what the page started (timers, listeners).

import * as api from "./api.js";
import {loadTimeZone} from "./appliance-zone.js";
import {h, replace} from "./dom.js";
import {confirmAction} from "./widgets/dialog.js";
import {toast} from "./widgets/toast.js";

const ROUTES = [
  {pattern: /^\/$/, page: "overview"},
  {pattern: /^\/devices\/?$/, page: "devices"},
  {pattern: /^\/devices\/([^/]+)\/?$/, page: "device", params: ["id"]},
  {pattern: /^\/events\/?$/, page: "events"},
  {pattern: /^\/queue\/?$/, page: "queue"},
  {pattern: /^\/settings\/?$/, page: "settings"},
  {pattern: /^\/settings\/notifications\/?$/, page: "notifications"},
  {pattern: /^\/login\/?$/, page: "login", open: true},
];

// leaveGuard: the page's "is there work that leaving would lose?" (context.guardLeave);
// shown: the address the page on screen belongs to (the back button has changed it already);
// sessionProblem: why the start could not learn whether the browser is logged in (the login page says it).
const state = {authenticated: false, cleanup: null, controller: null, renderId: 0, leaveGuard: null, shown: null,
               sessionProblem: null};

function match(pathname) {
  for (const route of ROUTES) {
    const found = pathname.match(route.pattern);
    if (found) {
      const params = {};
      (route.params || []).forEach((name, i) => { params[name] = decodeURIComponent(found[i + 1]); });
      return {route, params};
    }
  }
  return null;
}

/** May the page on screen go? Asks the owner first when it has unsaved work. */
async function mayLeave() {
  if (!state.leaveGuard || !state.leaveGuard()) return true;
  return confirmAction("Leave without saving?", "This page has changes that are not saved yet. "
                       + "If you leave now, they are lost.", "Leave without saving", true);
}

/** Go to `to` in the app; `force` skips the unsaved-work question (a lost session). */
export async function navigate(to, {replace: replaceEntry = false, force = false} = {}) {
  if (!force && !(await mayLeave())) return;
  if (to === location.pathname + location.search) replaceEntry = true;
  history[replaceEntry ? "replaceState" : "pushState"](null, "", to);
  render();
}

function loginUrl() {
  const next = location.pathname + location.search;
  return next === "/" || next.startsWith("/login") ? "/login" : "/login?next=" + encodeURIComponent(next);
}

function stopPage() {
  state.leaveGuard = null;
  if (state.controller) state.controller.abort();
  if (typeof state.cleanup === "function") {
    try {
      state.cleanup();
    } catch (exc) {
      console.error(exc);
    }
  }
  state.cleanup = null;
}

function showShell(visible) {
  document.getElementById("topbar").hidden = !visible;
  document.body.classList.toggle("logged-out", !visible);
}

function markCurrentLink(pathname) {
  for (const link of document.querySelectorAll("#nav a")) {
    const href = link.getAttribute("href");
    const current = href === "/" ? pathname === "/" : pathname === href || pathname.startsWith(href + "/");
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  closeMenu();
}

async function render() {
  const renderId = ++state.renderId;
  stopPage();
  state.shown = location.pathname + location.search;
  const main = document.getElementById("main");
  const found = match(location.pathname);
  if (!found) {
    showShell(state.authenticated);
    replace(main, h("h1", {}, "Page not found"),
            h("p", {}, "There is nothing at ", h("code", {}, location.pathname), ". ",
              h("a", {href: "/"}, "Go to the overview"), "."));
    return;
  }
  if (found.route.page === "login" && state.authenticated) {
    onLoggedIn(new URLSearchParams(location.search).get("next"));
    return;
  }
  if (!found.route.open && !state.authenticated) {
    navigate(loginUrl(), {replace: true, force: true});
    return;
  }
  showShell(state.authenticated && !found.route.open);
  markCurrentLink(location.pathname);
  state.controller = new AbortController();
  const context = {
    params: found.params,
    query: new URLSearchParams(location.search),
    signal: state.controller.signal,
    navigate,
    loggedIn: onLoggedIn,
    sessionProblem: state.sessionProblem,
    guardLeave: (hasUnsavedWork) => { if (renderId === state.renderId) state.leaveGuard = hasUnsavedWork; },
  };
  let module;
  try {
    module = await import(`./pages/${found.route.page}.js`);
  } catch (exc) {
    console.error(exc);
    replace(main, h("p", {class: "error"}, "This page could not be loaded. Reload to try again."));
    return;
  }
  if (!found.route.open) await loadTimeZone();  // times on the shop's clock from the first render
  if (renderId !== state.renderId) return;
  main.replaceChildren();
  main.dataset.page = found.route.page;
  try {
    state.cleanup = await module.render(main, context);
  } catch (exc) {
    if (exc.name === "AbortError" || renderId !== state.renderId) return;
    if (exc instanceof api.ApiError && exc.status === 401) return;  // the session ended: onLoggedOut shows the login page
    console.error(exc);
    main.append(h("p", {class: "error", role: "alert"}, exc.message || "Something went wrong."));
  }
  if (renderId === state.renderId && !context.keepFocus) focusHeading(main);
}

function focusHeading(main) {
  const heading = main.querySelector("h1");
  if (heading && document.activeElement === document.body) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({preventScroll: true});
  }
}

function onLoggedIn(next) {
  state.authenticated = true;
  state.sessionProblem = null;
  const safeNext = next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
  navigate(safeNext, {replace: true, force: true});
}

function onLoggedOut() {
  if (!state.authenticated && location.pathname.startsWith("/login")) return;
  state.authenticated = false;
  navigate(loginUrl(), {replace: true, force: true});
}

function closeMenu() {
  document.getElementById("nav").classList.remove("open");
  document.getElementById("menu-toggle").setAttribute("aria-expanded", "false");
}

function wireShell() {
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href]");
    if (!link || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    if (link.target || link.hasAttribute("download")) return;
    const target = new URL(link.href, location.href);
    if (target.origin !== location.origin || target.pathname.startsWith("/api/")
        || target.pathname.startsWith("/static/")) return;
    event.preventDefault();
    navigate(target.pathname + target.search);
  });
  window.addEventListener("popstate", async () => {
    const wanted = location.pathname + location.search;
    if (!state.leaveGuard || !state.leaveGuard()) { render(); return; }
    history.pushState(null, "", state.shown);  // stay, until the owner says to leave
    if (await mayLeave()) navigate(wanted, {force: true});
  });
  document.getElementById("menu-toggle").addEventListener("click", (event) => {
    const nav = document.getElementById("nav");
    const open = !nav.classList.contains("open");
    nav.classList.toggle("open", open);
    event.currentTarget.setAttribute("aria-expanded", String(open));
  });
  document.getElementById("logout").addEventListener("click", async () => {
    if (!(await mayLeave())) return;
    try {
      await api.logout();
    } catch (exc) {  // the session may still be open: stay, so the owner does not walk away logged in
      toast(`Not logged out: ${exc.message} Try again.`, "error");
      return;
    }
    state.authenticated = false;
    navigate("/login", {replace: true, force: true});
  });
}

async function start() {
  wireShell();
  api.onUnauthorized(onLoggedOut);
  try {
    state.authenticated = await api.refreshSession();
  } catch (exc) {
    state.authenticated = false;  // the login page, saying why; logging in works once the appliance answers
    state.sessionProblem = `Could not check whether this browser is logged in: ${exc.message} `
      + "Reload the page to try again, or log in.";
  }
  render();
}

start();
