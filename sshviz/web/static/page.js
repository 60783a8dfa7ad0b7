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
