// The page's own script; textual.js runs the terminal.

// A file the app delivers (ctrl+s: an SVG screenshot) arrives over the websocket, and textual.js
// opens its /download/ address with window.open. Browsers block a pop-up that no click started,
// and the key that asked for the file reaches the page as websocket traffic long after: fetch
// such an address through a download link instead, which needs no pop-up.
const openWindow = window.open.bind(window);
window.open = (url, ...rest) => {
  const target = new URL(url, window.location.href);
  if (target.origin === window.location.origin && target.pathname.startsWith("/download/")) {
    const link = document.createElement("a");
    link.href = target.href;
    link.download = "";
    document.body.append(link);
    link.click();
    link.remove();
    return null;
  }
  return openWindow(url, ...rest);
};

// The buttons start again with a new session: the page is made anew for each load, with a new
// one-time session ticket.
window.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button.restart")) {
    button.addEventListener("click", () => {
      const url = new URL(window.location.href);
      url.searchParams.delete("delay");
      window.location.href = url.pathname + url.search;
    });
  }
});

// Keys go to the terminal from the start, with no click into it first. textual.js tells the app
// of the focus only while its websocket is open, and the app, which shows its key bindings (the
// footer) only while it has the focus, takes it only once it has drawn: focus the terminal once
// the first frame is in.
window.addEventListener("load", () => {
  const focusOnceDrawn = new MutationObserver(() => {
    if (!document.body.classList.contains("-first-byte")) return;
    focusOnceDrawn.disconnect();
    const input = document.querySelector("#terminal .xterm-helper-textarea");
    if (input) {
      input.blur();
      input.focus();
    }
  });
  focusOnceDrawn.observe(document.body, { attributes: true, attributeFilter: ["class"] });
});
