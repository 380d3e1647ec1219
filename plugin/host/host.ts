// The demo host portal: what a PBX admin portal does to mount the plugin. It reads the
// manifest, imports the module it names, and hands the element the tenant, the API's base URL
// and a function that returns the administrator's session. The session arrives in the URL's
// fragment (which is never sent to a server) and is kept for the tab's lifetime only.

interface Manifest {
  element: string;
  module: string;
  version: string;
}

type PluginElement = HTMLElement & { getToken?: () => string };

const storageKey = "pbx-ad-sync-demo-session";
const content = document.getElementById("content") as HTMLElement;

function takeSession(): { token: string | null; tenant: string } {
  const params = new URLSearchParams(location.hash.slice(1));
  const fromUrl = params.get("session");
  if (fromUrl) {
    sessionStorage.setItem(storageKey, fromUrl);
    history.replaceState(null, "", location.pathname + location.search);
  }
  const token = fromUrl ?? sessionStorage.getItem(storageKey);
  return { token, tenant: params.get("tenant") ?? tenantOf(token) ?? "demo" };
}

function tenantOf(token: string | null): string | null {
  try {
    const payload = JSON.parse(atob((token ?? "").split(".")[1]?.replace(/-/g, "+").replace(/_/g, "/") ?? "")) as { tenant?: string };
    return payload.tenant ?? null;
  } catch {
    return null;
  }
}

/** One notice at a time: a page that finds its session expired may say so for several requests. */
function notice(text: string, withInput: boolean, onToken?: (token: string) => void): void {
  document.querySelector(".notice")?.remove();
  const box = document.createElement("div");
  box.className = "notice";
  box.setAttribute("role", "alert");
  box.textContent = text;
  if (withInput && onToken) {
    const input = document.createElement("input");
    input.type = "text";
    input.placeholder = "Paste a session token (npm start prints one; or: node cli/main.ts dev-token --tenant demo)";
    input.setAttribute("aria-label", "Session token");
    input.addEventListener("change", () => {
      const token = input.value.trim();
      if (!token) return;
      sessionStorage.setItem(storageKey, token);
      onToken(token);
      box.remove();
    });
    box.append(input);
  }
  content.prepend(box);
}

async function mount(): Promise<void> {
  const session = takeSession();
  let token = session.token;
  (document.getElementById("tenant-name") as HTMLElement).textContent = `Tenant: ${session.tenant}`;
  const manifestUrl = new URL("/plugin/manifest.json", location.href);
  const manifest = (await (await fetch(manifestUrl)).json()) as Manifest;
  await import(new URL(manifest.module, manifestUrl).href);
  const element = document.createElement(manifest.element) as PluginElement;
  element.setAttribute("tenant", session.tenant);
  element.setAttribute("api-base-url", "/api/v1");
  element.setAttribute("locale", navigator.language);
  element.setAttribute("theme", localStorage.getItem("pbx-demo-theme") ?? "light");
  element.getToken = () => token ?? "";
  element.addEventListener("adsync-session-expired", () =>
    notice("The portal session has expired. Restart `npm start` and open the URL it prints, or paste a new session below.", true, (t) => {
      token = t;
    }),
  );
  const frame = document.createElement("div");
  frame.className = "plugin-frame";
  frame.append(element);
  content.append(frame);
  if (!token)
    notice("No portal session. Open the URL `npm start` printed (it carries a session), or paste one below.", true, (t) => {
      token = t;
    });

  const toggle = document.getElementById("theme-toggle") as HTMLButtonElement;
  const showTheme = () => {
    toggle.textContent = element.getAttribute("theme") === "dark" ? "Light theme" : "Dark theme";
  };
  toggle.addEventListener("click", () => {
    const next = element.getAttribute("theme") === "dark" ? "light" : "dark";
    element.setAttribute("theme", next);
    localStorage.setItem("pbx-demo-theme", next);
    showTheme();
  });
  showTheme();
}

mount().catch((error: unknown) => notice(`The Active Directory plugin could not be loaded: ${(error as Error).message}`, false));
