// Copy buttons: <button data-copy="element-id"> copies that element's text.
document.querySelectorAll("[data-copy]").forEach(function (button) {
  button.addEventListener("click", function () {
    var text = document.getElementById(button.dataset.copy).innerText.trim();
    navigator.clipboard.writeText(text).then(function () { button.textContent = "Copied"; });
  });
});
