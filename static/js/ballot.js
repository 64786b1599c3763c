// Running totals on the ballot: budget used (knapsack) and points left (cumulative).
// The server checks every rule again; without JavaScript the ballot works the same.
(function () {
  "use strict";
  var pesos = new Intl.NumberFormat("es-CL", { style: "currency", currency: "CLP", maximumFractionDigits: 0 });

  function update(list) {
    var method = list.getAttribute("data-method");
    var items = list.querySelectorAll(".ballot-project");
    if (method === "knapsack") {
      var used = 0;
      items.forEach(function (item) {
        var box = item.querySelector("input[type=checkbox]");
        if (box && box.checked) { used += parseInt(item.getAttribute("data-cost"), 10) || 0; }
      });
      var budget = parseInt(list.getAttribute("data-budget"), 10) || 0;
      var out = list.querySelector("[data-used]");
      out.textContent = pesos.format(used);
      out.parentNode.classList.toggle("over", used > budget);
      items.forEach(function (item) {
        var box = item.querySelector("input[type=checkbox]");
        var cost = parseInt(item.getAttribute("data-cost"), 10) || 0;
        item.classList.toggle("unaffordable", !box.checked && used + cost > budget);
      });
    } else if (method === "cumulative") {
      var left = parseInt(list.getAttribute("data-points"), 10) || 0;
      list.querySelectorAll("input.points").forEach(function (input) {
        left -= parseInt(input.value, 10) || 0;
      });
      var output = list.querySelector("[data-left]");
      output.textContent = left;
      output.parentNode.classList.toggle("over", left < 0);
    }
  }

  document.querySelectorAll(".ballot-list").forEach(function (list) {
    var tally = list.querySelector(".tally");
    if (tally) { tally.hidden = false; }
    list.addEventListener("input", function () { update(list); });
    list.addEventListener("change", function () { update(list); });
    update(list);
  });
}());
