// The infusion chair's pages: the live board over Server-Sent Events (reconnects on drop),
// ticking elapsed-time clocks and print buttons. No inline scripts: the CSP forbids them.
"use strict";

(() => {
  const pad = (n) => String(n).padStart(2, "0");

  function formatElapsed(ms) {
    const total = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
  }

  // Server time minus browser time, from the last element that carries the server's "now".
  let skewMs = 0;
  function readSkew(root) {
    const stamp = root.querySelector("[data-now]");
    const now = stamp ? Date.parse(stamp.dataset.now) : NaN;
    if (!Number.isNaN(now)) {
      skewMs = now - Date.now();
    }
  }

  function tick() {
    const now = Date.now() + skewMs;
    for (const el of document.querySelectorAll("[data-since]")) {
      const since = Date.parse(el.dataset.since);
      if (!Number.isNaN(since)) {
        el.textContent = formatElapsed(now - since);
      }
    }
  }

  function setStatus(state, text) {
    const status = document.getElementById("board-status");
    if (status) {
      status.dataset.state = state;
      status.textContent = text;
    }
  }

  function connect(board, delayMs) {
    const source = new EventSource(board.dataset.stream);
    source.addEventListener("open", () => {
      delayMs = 1000;
      setStatus("live", "Live");
    });
    source.addEventListener("board", (event) => {
      board.innerHTML = event.data;
      readSkew(board);
      tick();
      setStatus("live", "Live");
    });
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        // The server refused or the page's sign-in ended: try again later, backing off.
        source.close();
        setStatus("down", "Connection lost — retrying");
        window.setTimeout(() => connect(board, Math.min(delayMs * 2, 30000)), delayMs);
      } else {
        setStatus("down", "Reconnecting…");
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    readSkew(document);
    tick();
    window.setInterval(tick, 1000);
    const board = document.getElementById("board");
    if (board && board.dataset.stream && "EventSource" in window) {
      connect(board, 1000);
    }
    for (const button of document.querySelectorAll("[data-print]")) {
      button.addEventListener("click", () => window.print());
    }
  });
})();
