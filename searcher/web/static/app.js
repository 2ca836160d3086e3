// Progressive enhancement only: every page works without this file.
// "/" puts the cursor in the search box (as on many search sites).
document.addEventListener("keydown", function (event) {
  var box = document.getElementById("q");
  if (event.key !== "/" || !box || event.ctrlKey || event.metaKey || event.altKey) return;
  var tag = (document.activeElement && document.activeElement.tagName) || "";
  if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") return;
  event.preventDefault();
  box.focus();
  box.select();
});
