// Authsome dashboard: the little behaviour the pages need (the CSP forbids inline scripts).
"use strict";

// Ask before destructive actions: <button data-confirm="...">.
document.addEventListener("submit", (event) => {
  const button = event.submitter;
  const message = button && button.dataset.confirm;
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});

// Grant forms: the provider list only matters when "only these providers" is chosen.
function syncGrantLists() {
  document.querySelectorAll("fieldset.grant").forEach((fieldset) => {
    const list = fieldset.querySelector("[data-grant-list]");
    const chosen = fieldset.querySelector("input[data-grant-mode]:checked");
    if (list && chosen) {
      list.hidden = chosen.value !== "list";
    }
  });
}
document.addEventListener("change", (event) => {
  if (event.target.matches("input[data-grant-mode]")) {
    syncGrantLists();
  }
});

// Provider definitions: an uploaded JSON file is read into the textarea, then posted.
document.addEventListener("change", (event) => {
  const input = event.target;
  if (!input.matches("input[type=file][data-load-into]") || !input.files.length) {
    return;
  }
  const target = document.getElementById(input.dataset.loadInto);
  input.files[0].text().then((text) => {
    target.value = text;
  });
});

// Invite links: select the whole link on focus, ready to copy.
document.addEventListener("focusin", (event) => {
  if (event.target.matches("input.copy")) {
    event.target.select();
  }
});

document.addEventListener("DOMContentLoaded", syncGrantLists);
