// The members' library: search suggestions as one types, the player (HLS through hls.js where the
// browser has no native HLS, else the file), starting at ?t= or #t=, the transcript beside the
// player (current line marked, a click seeks, a search box filters), #page=N in documents, and
// the learning archive's print button.
// Everything works without this script except suggestions and the transcript panel.
"use strict";
(function () {
  // --- suggestions: a combobox over /api/v1/search/suggest ---
  function suggest(input) {
    var list = document.getElementById(input.getAttribute("aria-controls"));
    if (!list) return;
    var timer = null, seq = 0, active = -1, items = [];
    function close() {
      list.hidden = true;
      list.textContent = "";
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
      items = [];
    }
    function go(s) {
      var to = "/search?q=" + encodeURIComponent(s.text);
      if (s.source === "tag") to = "/search?tag=" + encodeURIComponent(s.text);
      if (s.source === "series") to = "/series/" + encodeURIComponent(s.text);
      if (s.source === "lecturer") to = "/lecturers/" + encodeURIComponent(s.text);
      window.location.href = to;
    }
    function mark(i) {
      var opts = list.querySelectorAll("[role=option]");
      for (var k = 0; k < opts.length; k++) opts[k].setAttribute("aria-selected", k === i ? "true" : "false");
      active = i;
      if (i >= 0 && opts[i]) input.setAttribute("aria-activedescendant", opts[i].id);
      else input.removeAttribute("aria-activedescendant");
    }
    function show(found) {
      list.textContent = "";
      items = found;
      if (!found.length) return close();
      found.forEach(function (s, i) {
        var li = document.createElement("li");
        li.id = input.id + "-opt-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.className = "suggestion";
        li.textContent = s.text;
        var kind = document.createElement("span");
        kind.className = "src";
        kind.textContent = list.getAttribute("data-" + s.source) || "";
        li.appendChild(kind);
        li.addEventListener("mousedown", function (e) { e.preventDefault(); go(s); });
        list.appendChild(li);
      });
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      active = -1;
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var q = input.value.trim();
      if (!q) return close();
      timer = setTimeout(function () {
        var mine = ++seq;
        fetch("/api/v1/search/suggest?limit=8&q=" + encodeURIComponent(q), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
          .then(function (b) { if (mine === seq) show(b.suggestions || []); })
          .catch(close);
      }, 150);
    });
    input.addEventListener("keydown", function (e) {
      if (list.hidden) return;
      if (e.key === "ArrowDown") { e.preventDefault(); mark(Math.min(active + 1, items.length - 1)); }
      else if (e.key === "ArrowUp") { e.preventDefault(); mark(Math.max(active - 1, -1)); }
      else if (e.key === "Escape") { close(); }
      else if (e.key === "Enter" && active >= 0) { e.preventDefault(); go(items[active]); }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
  }
  var boxes = document.querySelectorAll("input[data-suggest]");
  for (var b = 0; b < boxes.length; b++) suggest(boxes[b]);

  // --- the second to start at: ?t=754 or #t=754 ---
  function startAt() {
    var m = /[#&?]t=(\d+(?:\.\d+)?)/.exec(window.location.hash) || /[?&]t=(\d+(?:\.\d+)?)/.exec(window.location.search);
    return m ? parseFloat(m[1]) : 0;
  }

  // --- the player ---
  var video = document.getElementById("player");
  if (video) {
    // ?t= or #t= first; else where this account stopped last time.
    var start = startAt() || parseFloat(video.getAttribute("data-resume") || "0") || 0;
    var hls = video.getAttribute("data-hls");
    var file = video.getAttribute("data-src");
    var seeked = false;
    function seekOnce() {
      if (!seeked && start > 0) {
        seeked = true;
        try { video.currentTime = start; } catch (e) { /* not seekable yet */ }
      }
    }
    video.addEventListener("loadedmetadata", seekOnce);
    // hls.js where the browser has Media Source Extensions (it picks the rendition for the
    // player's size and the line's speed); native HLS otherwise (Safari on an older iPhone).
    if (hls && window.Hls && window.Hls.isSupported()) {
      var player = new window.Hls({ startPosition: start > 0 ? start : -1, capLevelToPlayerSize: true });
      player.on(window.Hls.Events.ERROR, function (_e, data) {
        if (data && data.fatal) { player.destroy(); video.src = file; video.load(); }
      });
      player.loadSource(hls);
      player.attachMedia(video);
      window.lecternHls = player;
    } else if (hls && video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = hls;
    } else if (hls) {
      video.src = file;
    }
    if (video.readyState >= 1) seekOnce();
    window.addEventListener("hashchange", function () {
      var t = startAt();
      if (t > 0) video.currentTime = t;
    });
  }

  // --- what a signed-in account plays: every 15 s while playing, and on pause, seek, end and
  // leaving the page, where it is and the stretches it played since (fetch with keepalive
  // outlives the page, as a beacon does, and can carry the session's CSRF header). A stretch ends
  // where playback jumps (a seek), so skipping ahead covers nothing; stretches the server did not
  // take are sent again with the next report ---
  var track = video && video.getAttribute("data-track");
  var csrf = document.querySelector("meta[name=csrf-token]");
  if (track && csrf) {
    var pending = [], from = -1, last = -1, lastSent = -1;
    var close = function () {
      if (from >= 0 && last > from) pending.push({ start_ms: Math.floor(from * 1000), end_ms: Math.ceil(last * 1000) });
      from = -1; last = -1;
    };
    video.addEventListener("timeupdate", function () {
      if (video.paused || video.seeking) return;
      var t = video.currentTime;
      // More than a few seconds of lesson between two updates (about 4 a second) is a jump.
      if (from < 0 || t < last || t - last > 3) { close(); from = t; }
      last = t;
    });
    video.addEventListener("seeking", close);
    var report = function () {
      var at = Math.floor(video.currentTime * 1000);
      if (from >= 0 && last > from) { var keep = last; close(); from = keep; last = keep; }
      if (!(at >= 0) || (at === lastSent && !pending.length)) return;
      // Each stretch goes in one report at a time: reports in flight together carry different ones.
      var sent = pending.splice(0, 200);
      var body = { position_ms: at, played: sent };
      if (isFinite(video.duration) && video.duration > 0) {
        var d = Math.round(video.duration * 1000);
        body.duration_ms = d;
        body.played = sent.map(function (s) { return { start_ms: s.start_ms, end_ms: Math.min(s.end_ms, d) }; })
          .filter(function (s) { return s.end_ms > s.start_ms; });
      }
      lastSent = at;
      var retry = function () { lastSent = -1; pending = sent.concat(pending); };
      fetch(track, {
        method: "PUT",
        keepalive: true,
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf.getAttribute("content") },
        body: JSON.stringify(body)
      }).then(function (r) {
        // Taken, or refused for good (a 4xx): either way not sent again.
        if (r.status >= 500) retry();
      }).catch(retry);
    };
    setInterval(function () { if (!video.paused) report(); }, 15000);
    ["pause", "seeked", "ended"].forEach(function (e) { video.addEventListener(e, report); });
    window.addEventListener("pagehide", report);
    document.addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden") report(); });
  }

  // --- what a signed-in account reads of a document lesson: a page on screen (half of it, or
  // filling the screen) for 3 s counts as opened; the pages opened since go to the server every
  // 15 s, and on leaving the page. Pages the server did not take are sent again ---
  var reader = document.querySelector("section.document[data-reading]");
  if (reader && csrf) {
    var readUrl = reader.getAttribute("data-reading");
    var count = parseInt(reader.getAttribute("data-pages"), 10);
    var seen = {}, opened = [], timers = {}, at = 0;
    var watch = new IntersectionObserver(function (entries) {
      entries.forEach(function (e) {
        var n = parseInt(e.target.getAttribute("value"), 10);
        var on = e.isIntersecting && (e.intersectionRatio >= 0.5 || e.intersectionRect.height >= window.innerHeight / 2);
        if (on) {
          at = n;
          if (!seen[n] && !timers[n]) {
            timers[n] = setTimeout(function () { seen[n] = true; opened.push(n); delete timers[n]; }, 3000);
          }
        } else if (timers[n]) {
          clearTimeout(timers[n]); delete timers[n];
        }
      });
    }, { threshold: [0, 0.25, 0.5, 0.75, 1] });
    reader.querySelectorAll("li.page").forEach(function (li) { watch.observe(li); });
    var sendPages = function () {
      if (!opened.length || !(count > 0)) return;
      var sent = opened.splice(0, 200);
      var retry = function () { opened = sent.concat(opened); };
      fetch(readUrl, {
        method: "PUT",
        keepalive: true,
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf.getAttribute("content") },
        body: JSON.stringify({ page: Math.min(Math.max(at, 1), count), page_count: count, pages: sent })
      }).then(function (r) { if (r.status >= 500) retry(); }).catch(retry);
    };
    setInterval(sendPages, 15000);
    window.addEventListener("pagehide", sendPages);
    document.addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden") sendPages(); });
  }

  // --- the transcript: the first captions track's cues, beside the player ---
  var lines = document.getElementById("transcript");
  if (video && lines) {
    var filter = document.getElementById("transcript-q");
    var trackEl = video.querySelector("track[kind=captions]");
    var cues = [], buttons = [], current = -1, userScrolled = 0;
    lines.textContent = lines.getAttribute("data-loading") || "";
    function clock(s) {
      s = Math.floor(s);
      var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, r = s % 60;
      return (h ? h + ":" + (m < 10 ? "0" : "") : "") + m + ":" + (r < 10 ? "0" : "") + r;
    }
    function build() {
      var track = trackEl && trackEl.track;
      if (!track || !track.cues || buttons.length) return;
      cues = Array.prototype.slice.call(track.cues);
      lines.textContent = "";
      if (!cues.length) { lines.textContent = lines.getAttribute("data-empty") || ""; return; }
      cues.forEach(function (cue, i) {
        var li = document.createElement("li");
        var btn = document.createElement("button");
        btn.type = "button";
        btn.className = "line";
        btn.setAttribute("data-start", String(cue.startTime));
        var at = document.createElement("span");
        at.className = "at";
        at.textContent = clock(cue.startTime);
        var text = document.createElement("span");
        text.className = "text";
        text.textContent = cue.getCueAsHTML ? cue.getCueAsHTML().textContent : cue.text;
        btn.appendChild(at);
        btn.appendChild(document.createTextNode(" "));
        btn.appendChild(text);
        btn.addEventListener("click", function () {
          video.currentTime = cue.startTime;
          mark(i, false);
        });
        li.appendChild(btn);
        lines.appendChild(li);
        buttons.push(btn);
      });
      if (filter) filter.hidden = false;
      mark(find(video.currentTime), true);
    }
    function find(t) {
      var lo = 0, hi = cues.length - 1, at = -1;
      while (lo <= hi) {
        var mid = (lo + hi) >> 1;
        if (cues[mid].startTime <= t + 0.05) { at = mid; lo = mid + 1; } else { hi = mid - 1; }
      }
      return at;
    }
    function mark(i, follow) {
      if (i === current) return;
      if (current >= 0 && buttons[current]) { buttons[current].classList.remove("now"); buttons[current].removeAttribute("aria-current"); }
      current = i;
      if (i < 0 || !buttons[i]) return;
      buttons[i].classList.add("now");
      buttons[i].setAttribute("aria-current", "true");
      // Follow the lecture unless the reader scrolled the transcript in the last few seconds.
      if (follow && Date.now() - userScrolled > 4000) {
        var box = lines, el = buttons[i];
        var top = el.offsetTop - box.offsetTop;
        if (top < box.scrollTop || top > box.scrollTop + box.clientHeight - el.offsetHeight) {
          box.scrollTop = Math.max(0, top - box.clientHeight / 3);
        }
      }
    }
    lines.addEventListener("wheel", function () { userScrolled = Date.now(); }, { passive: true });
    lines.addEventListener("touchmove", function () { userScrolled = Date.now(); }, { passive: true });
    video.addEventListener("timeupdate", function () { mark(find(video.currentTime), true); });
    video.addEventListener("seeked", function () { mark(find(video.currentTime), true); });
    if (trackEl) {
      // Cues are loaded only for a track that is not disabled: hidden keeps them without
      // drawing, showing draws captions too (the default track).
      if (trackEl.track.mode === "disabled") trackEl.track.mode = "hidden";
      trackEl.addEventListener("load", build);
      if (trackEl.readyState === 2) build();
      setTimeout(build, 1500);
    }
    if (filter) {
      filter.addEventListener("input", function () {
        var q = filter.value.trim().toLowerCase();
        buttons.forEach(function (btn) {
          var hit = !q || btn.textContent.toLowerCase().indexOf(q) >= 0;
          btn.parentNode.hidden = !hit;
        });
      });
    }
  }

  // --- documents: #page=3 (or #page-3) opens that page ---
  var m = /^#page[=-](\d+)$/.exec(window.location.hash);
  if (m && document.querySelector(".pages")) {
    var el = document.getElementById("page-" + m[1]);
    if (el) el.scrollIntoView();
    else if (!/[?&]page=/.test(window.location.search)) {
      var sep = window.location.search ? "&" : "?";
      window.location.replace(window.location.pathname + window.location.search + sep + "page=" + m[1] + "#page-" + m[1]);
    }
  }

  // --- a print button (the learning archive): the page is laid out for paper ---
  Array.prototype.forEach.call(document.querySelectorAll("[data-print]"), function (b) {
    b.addEventListener("click", function () { window.print(); });
  });
})();
