// A small tus 1.0 client for the upload page (served as /static/upload.js).
//
// It creates an upload (POST with Upload-Length and Upload-Metadata lesson_id/role/filename in
// base64), then sends the file in PATCH requests of `data-chunk-bytes` at Upload-Offset. When a
// request fails on the network, or the server answers 409/423/5xx, it waits (with growing
// backoff), asks the server where the upload stands (HEAD) and continues from there: the
// server's offset is the truth, never our own count. The upload's URL is kept in localStorage
// under the lesson, role, file name and size, so choosing the same file after a reload resumes
// it too. Every request carries the session's CSRF token in X-CSRF-Token (from the page's
// <meta name="csrf-token">), which session-authenticated API writes require.
//
// What happened is exposed for people and tests alike: the progress bar, the status line, the
// form's data-state ("idle", "uploading", "retrying", "done", "failed") and window.lecternUpload
// (patches sent, retries, the offset resumed from, the asset id).
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form) return;
  var fileInput = document.getElementById("file");
  var roleInput = document.getElementById("role");
  var progress = document.getElementById("progress");
  var percent = document.getElementById("percent");
  var statusLine = document.getElementById("upload-status");
  var startButton = document.getElementById("start");
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";
  var endpoint = form.getAttribute("data-endpoint");
  var lessonId = form.getAttribute("data-lesson-id");
  var chunkBytes = parseInt(form.getAttribute("data-chunk-bytes"), 10) || 8 * 1024 * 1024;
  var zh = form.getAttribute("data-lang") !== "en";
  var MAX_RETRIES = 30;

  var words = {
    creating: zh ? "正在创建上传…" : "Creating the upload…",
    uploading: zh ? "正在上传…" : "Uploading…",
    resuming: zh ? "从服务器记录的位置继续：" : "Resuming from the server's offset: ",
    retrying: zh ? "网络中断，正在重试…" : "Connection lost; retrying…",
    done: zh ? "上传完成。" : "Upload complete.",
    failed: zh ? "上传失败：" : "Upload failed: ",
    choose: zh ? "请先选择文件。" : "Choose a file first.",
    view: zh ? "查看课程" : "View the lesson",
  };

  var stats = { patches: 0, retries: 0, resumedFrom: null, created: 0, assetId: null, url: null };
  window.lecternUpload = stats;

  function setState(s) { form.setAttribute("data-state", s); }
  function say(text) { statusLine.textContent = text; }
  function show(offset, size) {
    var p = size > 0 ? Math.floor((offset / size) * 100) : 100;
    if (offset >= size) p = 100;
    progress.value = p;
    percent.textContent = p + "%";
  }
  function b64(s) {
    // UTF-8 safe base64 of a string (file names are often Chinese).
    var bytes = new TextEncoder().encode(s);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin);
  }
  function storageKey(file, role) {
    return "lectern-upload:" + lessonId + ":" + role + ":" + file.name + ":" + file.size;
  }
  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  // One request; resolves with the XMLHttpRequest whatever its status, rejects on a network
  // failure. `onProgress` gets the bytes of the body sent so far.
  function request(method, url, headers, body, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.setRequestHeader("Tus-Resumable", "1.0.0");
      if (csrf) xhr.setRequestHeader("X-CSRF-Token", csrf);
      Object.keys(headers).forEach(function (k) { xhr.setRequestHeader(k, headers[k]); });
      if (onProgress && xhr.upload) {
        xhr.upload.onprogress = function (e) { onProgress(e.loaded); };
      }
      xhr.onload = function () { resolve(xhr); };
      xhr.onerror = function () { reject(new Error("network error")); };
      xhr.ontimeout = function () { reject(new Error("timeout")); };
      xhr.onabort = function () { reject(new Error("aborted")); };
      xhr.send(body === undefined ? null : body);
    });
  }

  function problem(xhr) {
    try {
      var p = JSON.parse(xhr.responseText);
      return p.detail || p.title || String(xhr.status);
    } catch (e) {
      return "HTTP " + xhr.status;
    }
  }

  // Whether an answer means "try again later" rather than "this cannot work".
  function transient(status) {
    return status === 409 || status === 423 || status === 429 || status >= 500;
  }

  async function create(file, role) {
    say(words.creating);
    var meta = "lesson_id " + b64(lessonId) + ",role " + b64(role) + ",filename " + b64(file.name);
    var xhr = await request("POST", endpoint, { "Upload-Length": String(file.size), "Upload-Metadata": meta });
    if (xhr.status !== 201) throw new Error(problem(xhr));
    stats.created += 1;
    return new URL(xhr.getResponseHeader("Location"), location.href).toString();
  }

  // Where the upload stands on the server: {offset, assetId}, or null when it is gone.
  async function head(url) {
    var xhr = await request("HEAD", url, {});
    if (xhr.status === 404 || xhr.status === 410) return null;
    if (xhr.status !== 200) {
      var err = new Error("HTTP " + xhr.status);
      err.status = xhr.status;
      throw err;
    }
    return {
      offset: parseInt(xhr.getResponseHeader("Upload-Offset"), 10),
      assetId: xhr.getResponseHeader("Lectern-Asset-Id"),
    };
  }

  async function upload(file, role) {
    var key = storageKey(file, role);
    var url = localStorage.getItem(key);
    var offset = 0;
    if (url) {
      var at = await head(url).catch(function () { return null; });
      if (at) {
        offset = at.offset;
        stats.resumedFrom = offset;
        say(words.resuming + offset);
        if (at.assetId) stats.assetId = at.assetId;
      } else {
        url = null;
        localStorage.removeItem(key);
      }
    }
    if (!url) {
      url = await create(file, role);
      localStorage.setItem(key, url);
    }
    stats.url = url;
    setState("uploading");
    show(offset, file.size);
    var failures = 0;
    while (offset < file.size || (file.size === 0 && !stats.assetId)) {
      var end = Math.min(offset + chunkBytes, file.size);
      var base = offset;
      try {
        stats.patches += 1;
        var xhr = await request(
          "PATCH",
          url,
          { "Content-Type": "application/offset+octet-stream", "Upload-Offset": String(offset) },
          file.slice(offset, end),
          function (loaded) { show(base + loaded, file.size); }
        );
        if (xhr.status === 204) {
          offset = parseInt(xhr.getResponseHeader("Upload-Offset"), 10);
          if (xhr.getResponseHeader("Lectern-Asset-Id")) stats.assetId = xhr.getResponseHeader("Lectern-Asset-Id");
          failures = 0;
          setState("uploading");
          say(words.uploading);
          show(offset, file.size);
          if (file.size === 0) break;
          continue;
        }
        if (xhr.status === 404 || xhr.status === 410) {
          localStorage.removeItem(key);
          throw Object.assign(new Error(problem(xhr)), { fatal: true });
        }
        if (!transient(xhr.status)) throw Object.assign(new Error(problem(xhr)), { fatal: true });
      } catch (e) {
        if (e.fatal) throw e;
      }
      // A network failure or a transient refusal: back off, then ask the server where we are.
      failures += 1;
      stats.retries += 1;
      if (failures > MAX_RETRIES) throw new Error(words.retrying);
      setState("retrying");
      say(words.retrying);
      while (true) {
        await sleep(Math.min(250 * Math.pow(2, Math.min(failures, 6)), 8000));
        try {
          var where = await head(url);
          if (!where) {
            localStorage.removeItem(key);
            throw Object.assign(new Error("the upload expired"), { fatal: true });
          }
          offset = where.offset;
          stats.resumedFrom = offset;
          if (where.assetId) stats.assetId = where.assetId;
          say(words.resuming + offset);
          show(offset, file.size);
          break;
        } catch (e) {
          if (e.fatal) throw e;
          failures += 1;
          stats.retries += 1;
          if (failures > MAX_RETRIES) throw new Error(words.retrying);
        }
      }
    }
    localStorage.removeItem(key);
    show(file.size, file.size);
    setState("done");
    if (stats.assetId) form.setAttribute("data-asset-id", stats.assetId);
    statusLine.textContent = words.done + " ";
    var link = document.createElement("a");
    link.href = "/lessons/" + encodeURIComponent(lessonId);
    link.id = "done-link";
    link.textContent = words.view;
    statusLine.appendChild(link);
  }

  setState("idle");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var file = fileInput.files && fileInput.files[0];
    if (!file) { say(words.choose); return; }
    startButton.disabled = true;
    upload(file, roleInput.value).catch(function (e) {
      setState("failed");
      say(words.failed + e.message);
    }).finally(function () { startButton.disabled = false; });
  });
})();
