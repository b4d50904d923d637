// The KPI page's charts: each canvas #chart-<id> drawn with the vendored Chart.js from the figures the page
// carries as JSON data (#kpi-data), the same numbers as the table beside it. Without Chart.js the tables stay.
// No animation: figures to read, not to watch, and a screenshot shows them whole.
"use strict";

(function () {
  const data = document.getElementById("kpi-data");
  if (!data || typeof window.Chart === "undefined") {
    return;
  }
  const palette = ["#0b5cad", "#a3201c", "#1d6b35", "#8a5a00", "#5b3fa3", "#00727a", "#5b6470"];
  const outcomes = { allowed: "#1d6b35", warned: "#8a5a00", denied: "#a3201c" };

  function colour(series, index) {
    return outcomes[series.label] || palette[index % palette.length];
  }

  function draw(spec) {
    const canvas = document.getElementById("chart-" + spec.id);
    if (!canvas) {
      return;
    }
    if (!spec.labels.length) {
      canvas.parentElement.classList.add("empty");
      return;
    }
    const valueAxis = spec.horizontal ? "x" : "y";
    const labelAxis = spec.horizontal ? "y" : "x";
    const scales = {};
    scales[valueAxis] = {
      beginAtZero: true, stacked: !!spec.stacked, title: { display: !!spec.unit, text: spec.unit },
      ticks: { precision: spec.unit ? undefined : 0 },
    };
    scales[labelAxis] = { stacked: !!spec.stacked };
    if (spec.unit === "%") {
      scales[valueAxis].max = 100;
    }
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: spec.labels,
        datasets: spec.series.map(function (series, index) {
          return { label: series.label, data: series.values, backgroundColor: colour(series, index) };
        }),
      },
      options: {
        indexAxis: labelAxis,
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: scales,
        plugins: { legend: { display: spec.series.length > 1 } },
      },
    });
  }

  JSON.parse(data.textContent).forEach(draw);
})();
