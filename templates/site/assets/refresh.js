/* Optional: reloads the index when the set of current alerts changes (alerts.json's digest).
   The page works fully without it; it polls only while the tab is visible. */
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || !window.fetch) return;
  var url = me.getAttribute("data-json");
  var digest = me.getAttribute("data-digest");
  function check() {
    if (document.hidden) return;
    fetch(url, { cache: "no-cache" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d && d.digest && d.digest !== digest) location.reload(); })
      .catch(function () {});
  }
  setInterval(check, 60000);
  document.addEventListener("visibilitychange", check);
})();
