// A device token, shown once, with ready-to-run curl lines and the contract's headers.

import {h} from "../dom.js";
import {toast} from "./toast.js";

function shellQuote(text) {
  return "'" + String(text).replace(/'/g, "'\\''") + "'";
}

export function configCurl(origin, deviceId, token) {
  return `curl -sS -H ${shellQuote("Authorization: Bearer " + token)} `
    + shellQuote(`${origin}/api/v1/device/config?device_id=${encodeURIComponent(deviceId)}`);
}

export function frameCurl(origin, deviceId, token) {
  const meta = `{\\"device_id\\":\\"${deviceId}\\",\\"capture_ts\\":\\"$TS\\",\\"seq\\":1,`
    + `\\"width\\":640,\\"height\\":480,\\"jpeg_quality\\":85}`;
  return [
    "TS=$(date -u +%Y-%m-%dT%H:%M:%SZ)",
    `curl -sS -H ${shellQuote("Authorization: Bearer " + token)} \\`,
    `  -F "meta=${meta};type=application/json" \\`,
    "  -F 'image=@frame.jpg;type=image/jpeg' \\",
    `  ${shellQuote(origin + "/api/v1/ingest/frame")}`,
  ].join("\n");
}

function copyButton(text, what) {
  return h("button", {type: "button", class: "small", onclick: async () => {
    try {
      await navigator.clipboard.writeText(text);
      toast(`${what} copied.`, "success");
    } catch {
      toast("Copying needs a secure page; select the text and copy it by hand.", "error");
    }
  }}, "Copy");
}

function block(title, text, testId) {
  return h("div", {class: "secret-block"},
           h("div", {class: "copy-row"}, h("h3", {}, title), copyButton(text, title)),
           h("pre", {class: "secret-box", dataset: {testid: testId}}, text));
}

function headerList(scheme) {
  if (scheme === "hmac") {
    return h("ul", {class: "small"},
             h("li", {}, h("code", {}, "X-Device-Id: <id>"), ", ", h("code", {}, "X-Timestamp: <unix seconds>"),
               ", ", h("code", {}, "X-Nonce: <16–64 chars>")),
             h("li", {}, h("code", {}, "X-Signature: hex(hmac_sha256(token, METHOD \\n PATH \\n TIMESTAMP \\n NONCE \\n hex(sha256(body))))")),
             h("li", {}, "Timestamps more than 300 s off, or a nonce used twice, are refused."));
  }
  return h("ul", {class: "small"},
           h("li", {}, h("code", {}, "Authorization: Bearer <token>"), " on every request."),
           h("li", {}, "Frames: ", h("code", {}, "POST /api/v1/ingest/frame"),
             " as multipart with a ", h("code", {}, "meta"), " JSON part and an ", h("code", {}, "image"),
             " JPEG part; width and height must match the JPEG."),
           h("li", {}, "Health: ", h("code", {}, "POST /api/v1/ingest/heartbeat"), "; config: ",
             h("code", {}, "GET /api/v1/device/config?device_id=<id>"), "."));
}

/** The panel shown right after a device is added or its token rotated. */
export function tokenPanel({deviceId, token, scheme = "bearer"}) {
  const origin = location.origin;
  const camera = `echo ${shellQuote(token)} > token && chmod 600 token\n`
    + `storewatch camera --server ${origin} --device-id ${deviceId} --token-file token`
    + (scheme === "hmac" ? " --auth hmac" : "");
  return h("div", {class: "token-panel"},
           h("p", {class: "notice"}, h("strong", {}, "Copy the token now: "),
             "it is shown only once. If it is lost, rotate it and update the device."),
           block("Token", token, "token"),
           block("Check it with curl", configCurl(origin, deviceId, token), "curl-config"),
           scheme === "bearer" ? block("Upload a 640×480 frame.jpg", frameCurl(origin, deviceId, token), "curl-frame") : "",
           block("Or run the Pi camera client", camera, "camera-command"),
           h("h3", {}, "Headers (device contract)"),
           headerList(scheme));
}
