// Show only the inputs of the chosen pricing model (without JavaScript every model's inputs show;
// the server keeps only the chosen model's fields either way).
document.querySelectorAll("fieldset.pricing").forEach(function (fieldset) {
  var select = fieldset.querySelector("select[name$='.pricing.model']");
  function update() {
    fieldset.querySelectorAll("[data-pricing]").forEach(function (part) {
      part.hidden = part.dataset.pricing.split(" ").indexOf(select.value) < 0;
    });
  }
  select.addEventListener("change", update);
  update();
});

// Amounts are typed in the contract's currency: the unit beside each follows the currency input.
var currencyInput = document.querySelector("input[name='currency']");
if (currencyInput) {
  currencyInput.addEventListener("input", function () {
    document.querySelectorAll("[data-currency-unit]").forEach(function (unit) {
      unit.textContent = currencyInput.value.trim().toUpperCase();
    });
  });
}
