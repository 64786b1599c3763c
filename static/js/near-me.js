/* Progressive enhancement: fill the lat/lon fields of the "fairs near" form from the
   browser's geolocation, only when the visitor presses the button and agrees. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-near-me]");
  if (!form || !navigator.geolocation) { return; }
  var button = form.querySelector("button[data-near-me-button]");
  var status = form.querySelector("[data-near-me-status]");
  button.hidden = false;
  button.addEventListener("click", function () {
    status.textContent = button.getAttribute("data-waiting");
    navigator.geolocation.getCurrentPosition(function (position) {
      form.querySelector("input[name=lat]").value = position.coords.latitude.toFixed(5);
      form.querySelector("input[name=lon]").value = position.coords.longitude.toFixed(5);
      form.submit();
    }, function () {
      status.textContent = button.getAttribute("data-failed");
    }, { timeout: 10000, maximumAge: 600000 });
  });
})();
