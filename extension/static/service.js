// The interview service's own script for every page (the content security policy admits no other):
// confirmation before irreversible actions, and the new-interview form's time budget.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    const question = event.target.dataset && event.target.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });
  document.addEventListener("DOMContentLoaded", function () {
    const scenario = document.getElementById("scenario");
    const budget = document.getElementById("time_budget");
    if (scenario && budget) {
      scenario.addEventListener("change", function (event) {
        budget.value = event.target.selectedOptions[0].dataset.minutes;
      });
    }
  });
})();
