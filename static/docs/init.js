// The API reference at /docs (src/api/docs-page.ts): Swagger UI, loaded from this engine's own
// static assets, on the spec the page names. A file rather than an inline script, so that the page
// runs under a Content-Security-Policy that allows scripts from its own origin only.
window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    // No call to the public validator service: the reference works offline.
    validatorUrl: null,
  });
});
