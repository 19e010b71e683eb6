// The anonymised export's preview: text selected in the preview goes into "Text to hide",
// ready for the Mark button (the form works without this too: type the text).
(() => {
  const input = document.getElementById("new-mark");
  const button = document.getElementById("mark-button");
  if (!input || !button) return;
  const inPreview = (node) => {
    const element = node && (node.nodeType === 1 ? node : node.parentElement);
    return Boolean(element && element.closest(".preview-list"));
  };
  document.addEventListener("selectionchange", () => {
    const selection = window.getSelection();
    if (!selection || selection.isCollapsed || !selection.rangeCount) return;
    if (!inPreview(selection.getRangeAt(0).commonAncestorContainer)) return;
    const text = selection.toString().replace(/\s+/g, " ").trim();
    if (text && text.length <= Number(input.maxLength || 200)) {
      input.value = text;
      button.classList.add("primary");
    }
  });
})();
