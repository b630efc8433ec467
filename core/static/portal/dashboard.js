/* The dashboard's two charts (Chart.js, vendored): outcomes per day by state, billed per period; and the
   customer overview's outcomes per day, one chart per contract. */
(function () {
  "use strict";
  // The badge colours of portal.css, a shade darker so bars read on white.
  var STATE_COLOURS = {
    received: "#9aa5b1", pending: "#7b8794", maturing: "#5b8fd9", billable: "#3fae7a",
    billed: "#0b6e4f", rejected: "#d9534f", flagged: "#e0a800", disputed: "#e8793a", reversed: "#8e6bbf"
  };
  var CURRENCY_COLOURS = ["#0b6e4f", "#5b8fd9", "#e0a800", "#8e6bbf", "#e8793a"];

  function data(id) { return JSON.parse(document.getElementById(id).textContent); }
  function label(code) { return code.charAt(0).toUpperCase() + code.slice(1).replace(/_/g, " "); }

  function perDayChart(canvas, perDay) {
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: perDay.labels,
        datasets: perDay.series.map(function (s) {
          return { label: label(s.state), data: s.counts, backgroundColor: STATE_COLOURS[s.state] || "#999" };
        })
      },
      options: {
        maintainAspectRatio: false, animation: false,
        scales: {
          x: { stacked: true, ticks: { maxRotation: 0, autoSkipPadding: 12, callback: function (v) { return this.getLabelForValue(v).slice(5); } } },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } }
        },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } }
      }
    });
  }

  // The vendor's chart, and one per contract on the customer portal's overview (its canvas names the
  // JSON element holding its data).
  var vendorChart = document.getElementById("chart-outcomes");
  if (vendorChart) perDayChart(vendorChart, data("outcomes-per-day"));
  document.querySelectorAll("canvas[data-outcomes-per-day]").forEach(function (canvas) {
    perDayChart(canvas, data(canvas.getAttribute("data-outcomes-per-day")));
  });

  var canvas = document.getElementById("chart-billed");
  if (!canvas) return;
  var billed = data("billed-per-period");
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: billed.labels,
      datasets: billed.series.map(function (s, i) {
        var scale = Math.pow(10, s.exponent);
        return {
          label: s.currency,
          exponent: s.exponent,
          // Display only: the amounts are exact integers of minor units on the server.
          data: s.totals_minor.map(function (minor) { return minor / scale; }),
          backgroundColor: CURRENCY_COLOURS[i % CURRENCY_COLOURS.length]
        };
      })
    },
    options: {
      maintainAspectRatio: false, animation: false,
      scales: { y: { beginAtZero: true } },
      plugins: {
        legend: { position: "bottom", labels: { boxWidth: 12 } },
        tooltip: { callbacks: { label: function (c) {
          return c.dataset.label + " " + c.parsed.y.toLocaleString(undefined, { minimumFractionDigits: c.dataset.exponent });
        } } }
      }
    }
  });
})();
