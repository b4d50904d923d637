// The request form's end date stays within 12 weeks of its start as the start changes (the server refuses
// a longer window whatever the browser sends; this only keeps the date picker honest).
(function () {
  "use strict";
  var start = document.getElementById("start");
  var end = document.getElementById("end");
  if (!start || !end) { return; }
  var days = Number(end.getAttribute("data-max-days"));
  function shifted(first, by) { return new Date(first.getTime() + by * 86400000).toISOString().slice(0, 10); }
  start.addEventListener("change", function () {
    var first = new Date(start.value + "T00:00:00Z");
    if (isNaN(first.getTime())) { return; }
    end.min = shifted(first, 1);
    end.max = shifted(first, days);
  });
}());
