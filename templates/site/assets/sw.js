/* alertcast's service worker: shows the alerts pushed to this device (Web Push, RFC 8030).

   The payload is JSON (alertcast.subscriptions.webpush.PushPayload): title, body, url,
   alertId, version, msgType, lang. Each notification is tagged with the alert's id, so an
   update or an end replaces the one already on screen instead of adding another; an update
   alerts again (renotify), an end replaces it quietly. A click opens the alert's page. */
"use strict";

var FALLBACK = { fr: "Nouvelle alerte", en: "New alert" };

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

function safeUrl(url) {
  try {
    var parsed = new URL(url, self.registration.scope);
    if (parsed.protocol === "https:" || parsed.protocol === "http:") return parsed.href;
  } catch (e) { /* not a URL: the site's home page instead */ }
  return self.registration.scope;
}

self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = {}; }
  var lang = data.lang === "en" ? "en" : "fr";
  var options = {
    body: data.body || "",
    lang: lang,
    data: { url: safeUrl(data.url || ""), alertId: data.alertId || null, version: data.version || null },
    timestamp: Date.now()
  };
  if (data.alertId) {
    options.tag = String(data.alertId);
    options.renotify = data.msgType !== "Cancel";  /* an update alerts again, an end does not */
  }
  event.waitUntil(self.registration.showNotification(data.title || FALLBACK[lang], options));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || self.registration.scope;
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
      for (var i = 0; i < windows.length; i++) {
        if (windows[i].url === url && "focus" in windows[i]) return windows[i].focus();
      }
      return self.clients.openWindow(url);
    })
  );
});
