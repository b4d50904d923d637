// The request form's end date stays 6 to 12 weeks after its start as the start changes (the server refuses
// another window whatever the browser sends; this only keeps the date picker honest).
(function () {
  "use strict";
  var start = document.getElementById("start");
  var end = document.getElementById("end");
  if (!start || !end) { return; }
  var days = Number(end.getAttribute("data-max-days"));
  var fewest = Number(end.getAttribute("data-min-days"));
  function shifted(first, by) { return new Date(first.getTime() + by * 86400000).toISOString().slice(0, 10); }
  start.addEventListener("change", function () {
    var first = new Date(start.value + "T00:00:00Z");
    if (isNaN(first.getTime())) { return; }
    end.min = shifted(first, fewest);
    end.max = shifted(first, days);
  });
}());
