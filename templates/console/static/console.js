// Live parts of the console: each element with data-live="<url>" is refreshed from that URL
// (a server-rendered fragment) every 1.5 s, so a new draft or a channel's answer shows without
// a reload. Nothing else needs JavaScript: every action is a plain form.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const element of document.querySelectorAll("[data-live]")) {
    let last = element.innerHTML;
    const refresh = async () => {
      try {
        const answer = await fetch(element.dataset.live, {
          credentials: "same-origin",
          headers: { Accept: "text/html" },
        });
        if (answer.status === 401) {
          window.location.reload(); // the session ended: the server shows the login page
          return;
        }
        if (answer.ok) {
          const html = await answer.text();
          if (html !== last) {
            element.innerHTML = html;
            last = element.innerHTML;
          }
        }
      } catch (error) {
        // the web process restarts or the network blinks: try again at the next tick
      }
      setTimeout(refresh, 1500);
    };
    setTimeout(refresh, 1500);
  }
});
