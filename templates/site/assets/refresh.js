/* Optional: reloads the index when the set of current alerts changes (alerts.json's digest).
   The page works fully without it; it polls only while the tab is visible. */
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || !window.fetch) return;
  var url = me.getAttribute("data-json");
  var digest = me.getAttribute("data-digest");
  function reload() {
    /* A plain reload revalidates the cached page with If-Modified-Since, whose one-second
       granularity answers 304 when the page was rebuilt in the second it was fetched: the
       old list would stay. Fetching past the cache first stores the new copy, then reload. */
    fetch(location.href, { cache: "reload" }).then(function () { location.reload(); },
      function () { location.reload(); });
  }
  function check() {
    if (document.hidden) return;
    fetch(url, { cache: "no-cache" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d && d.digest && d.digest !== digest) reload(); })
      .catch(function () {});
  }
  setInterval(check, 60000);
  document.addEventListener("visibilitychange", check);
})();
