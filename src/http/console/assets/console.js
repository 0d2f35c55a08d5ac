// The console's own script: htmx sends the page's CSRF token with every request it makes.
document.addEventListener("htmx:configRequest", (event) => {
  const token = document.querySelector('meta[name="csrf-token"]');
  if (token) event.detail.headers["x-csrf-token"] = token.getAttribute("content");
});
