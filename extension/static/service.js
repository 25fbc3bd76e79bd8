// The interview service's own script for every page (the content security policy admits no other):
// confirmation before irreversible actions, and the new-interview form's time budget and kind.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    const question = event.target.dataset && event.target.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });
  document.addEventListener("DOMContentLoaded", function () {
    const scenario = document.getElementById("scenario");
    const budget = document.getElementById("time_budget");
    const kind = document.getElementById("kind");
    function showKind() {
      const takeHome = kind && kind.value === "take_home";
      document.querySelectorAll("[data-kind]").forEach(function (field) {
        field.hidden = field.dataset.kind !== (takeHome ? "take_home" : "live");
      });
      if (budget) budget.value = takeHome ? budget.dataset.takeHome : scenario.selectedOptions[0].dataset.minutes;
    }
    if (scenario && budget) {
      scenario.addEventListener("change", function (event) {
        if (!kind || kind.value !== "take_home") budget.value = event.target.selectedOptions[0].dataset.minutes;
      });
    }
    if (kind) kind.addEventListener("change", showKind);
  });
})();
