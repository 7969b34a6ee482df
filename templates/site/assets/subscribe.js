/* The subscribe page's optional layer. Without it everything works: the search and the e-mail
   form are plain forms the subscribe endpoints answer with a page. With it: communes suggested
   while typing, and, where the browser has service workers and push, the button that
   subscribes this device (its PushSubscription is posted to the endpoint with the chosen
   communes). Words come from the page (the script tag's data-words), in its language. */
(function () {
  "use strict";
  var me = document.currentScript;
  var byId = function (id) { return document.getElementById(id); };
  var search = byId("search"), q = byId("q"), list = byId("suggestions"), status = byId("q-status");
  var form = byId("subscribe"), chosen = byId("chosen"), noneChosen = byId("none-chosen");
  if (!search || !q || !list || !form || !chosen || !window.fetch || !window.URL) return;
  var words = {};
  try { words = JSON.parse(me.getAttribute("data-words")); } catch (e) { words = {}; }

  function fmt(text, values) {
    return String(text || "").replace(/\{(\w+)\}/g, function (all, name) {
      return name in values ? values[name] : all;
    });
  }
  function say(node, text) { if (node) node.textContent = text || ""; }
  function chosenCodes() {
    return Array.prototype.map.call(form.querySelectorAll('input[name="areas"]:checked'),
      function (box) { return box.value; });
  }

  /* -- the chosen communes ---------------------------------------------------------------- */
  function areasError(text) {
    var fieldset = byId("areas"), error = byId("areas-error");
    if (!text) {
      if (error) error.remove();
      fieldset.removeAttribute("aria-describedby");
      return;
    }
    if (!error) {
      error = document.createElement("p");
      error.id = "areas-error";
      error.className = "error";
      fieldset.insertBefore(error, chosen);
    }
    error.textContent = text;
    fieldset.setAttribute("aria-describedby", "areas-error");
  }
  function add(code, label) {
    var box = byId("area-" + code);
    if (!box) {
      var item = document.createElement("li");
      box = document.createElement("input");
      box.type = "checkbox";
      box.id = "area-" + code;
      box.name = "areas";
      box.value = code;
      var text = document.createElement("label");
      text.htmlFor = box.id;
      text.textContent = label;
      item.append(box, " ", text);
      chosen.append(item);
      var hidden = document.createElement("input");  /* kept by a search made without script */
      hidden.type = "hidden";
      hidden.name = "areas";
      hidden.value = code;
      search.append(hidden);
    }
    box.checked = true;
    noneChosen.hidden = true;
    areasError("");
    say(status, fmt(words.added, { name: label }));
    q.focus();
  }

  /* -- suggestions ------------------------------------------------------------------------ */
  function show(places) {
    var taken = chosenCodes();
    list.replaceChildren();
    places.filter(function (p) { return taken.indexOf(p.code) < 0; }).forEach(function (place) {
      var where = (place.postcodes || []).slice(0, 2).join(", ") || place.departement;
      var label = place.name + " (" + where + ")";
      var button = document.createElement("button");
      button.type = "button";
      button.dataset.code = place.code;
      button.dataset.label = label;
      button.textContent = fmt(words.add, { label: label }) +
        (place.via ? " – " + fmt(words.via, { via: place.via }) : "");
      var item = document.createElement("li");
      item.append(button);
      list.append(item);
    });
    list.hidden = !list.children.length;
  }
  var timer = null, asked = 0;
  function lookup(now) {
    clearTimeout(timer);
    var text = q.value.trim();
    if (text.length < 2) { show([]); say(status, ""); return; }
    timer = setTimeout(function () {
      var mine = ++asked;
      var url = new URL(search.getAttribute("action"), location.href);
      url.searchParams.set("q", text);
      say(status, words.searching);
      fetch(url.toString(), { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (places) {
          if (mine !== asked) return;  /* a later search answered first: keep its result */
          show(places);
          say(status, places.length ? fmt(words.found, { n: places.length }) : words.none);
        })
        .catch(function () { if (mine === asked) say(status, words.failed); });
    }, now ? 0 : 250);
  }
  q.addEventListener("input", function () { lookup(false); });
  search.addEventListener("submit", function (event) {
    event.preventDefault();
    var submitter = event.submitter;
    if (submitter && submitter.dataset.code) add(submitter.dataset.code, submitter.dataset.label);
    else lookup(true);
  });
  list.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-code]");
    if (!button) return;
    event.preventDefault();
    button.closest("li").remove();
    list.hidden = !list.children.length;
    add(button.dataset.code, button.dataset.label);
  });

  /* -- this device ------------------------------------------------------------------------ */
  var push = byId("push"), pushButton = byId("push-button"), pushStatus = byId("push-status");
  var key = push && push.dataset.key, worker = push && push.dataset.sw;
  var canPush = !!(push && key && worker && "serviceWorker" in navigator && "PushManager" in window &&
    "Notification" in window && new URL(worker, location.href).origin === location.origin);
  if (!canPush) return;
  push.hidden = false;

  function keyBytes(text) {
    var padded = text + "=".repeat((4 - text.length % 4) % 4);
    var raw = atob(padded.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(raw, function (c) { return c.charCodeAt(0); });
  }
  function sameKey(subscription, wanted) {
    var had = subscription.options && subscription.options.applicationServerKey;
    if (!had) return true;
    var bytes = new Uint8Array(had);
    return bytes.length === wanted.length && bytes.every(function (b, i) { return b === wanted[i]; });
  }
  function activated(registration) {
    return new Promise(function (resolve) {
      var w = registration.installing || registration.waiting;
      if (registration.active || !w) { resolve(registration); return; }
      w.addEventListener("statechange", function () { if (w.state === "activated") resolve(registration); });
    });
  }
  function refusal(answer) {
    var problem = answer && answer.problems && answer.problems[0];
    var rule = problem ? problem.rule : "";
    if (/^(too_short|missing)$/.test(rule) && /^areas/.test(problem.path)) return words.err_areas_missing;
    if (/commune|departement|area_code/.test(rule)) return words.err_unknown_commune;
    if (rule === "too_long") return words.err_too_long;
    if (rule === "rate_limited") return words.err_rate_limited;
    return words.push_failed;
  }
  function subscribed(unsubscribeUrl) {
    pushStatus.replaceChildren(document.createTextNode(words.push_done + " "));
    if (unsubscribeUrl) {
      var link = document.createElement("a");
      link.href = unsubscribeUrl;
      link.textContent = words.push_unsubscribe;
      pushStatus.append(link);
    }
  }
  async function subscribeDevice() {
    var areas = chosenCodes();
    if (!areas.length) {
      areasError(words.err_areas_missing);
      say(pushStatus, words.err_areas_missing);
      q.focus();
      return;
    }
    pushButton.disabled = true;
    say(pushStatus, words.push_working);
    try {
      if (await Notification.requestPermission() !== "granted") { say(pushStatus, words.push_denied); return; }
      var registration = await activated(await navigator.serviceWorker.register(worker));
      var wanted = keyBytes(key);
      var subscription = await registration.pushManager.getSubscription();
      if (subscription && !sameKey(subscription, wanted)) {  /* the body changed its key */
        await subscription.unsubscribe();
        subscription = null;
      }
      subscription = subscription ||
        await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: wanted });
      var response = await fetch(push.dataset.endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ subscription: subscription.toJSON(), areas: areas,
          language: document.documentElement.lang })
      });
      var answer = await response.json().catch(function () { return null; });
      if (response.ok && answer) subscribed(answer.unsubscribe_url);
      else say(pushStatus, refusal(answer));
    } catch (e) {
      say(pushStatus, e && e.name === "NotAllowedError" ? words.push_denied : words.push_failed);
    } finally {
      pushButton.disabled = false;
    }
  }
  pushButton.addEventListener("click", subscribeDevice);
})();
