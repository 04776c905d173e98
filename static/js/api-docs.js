// Starts Swagger UI on the API's OpenAPI document (templates/api/docs.html). A file of its own, not
// an inline script: the app's Content-Security-Policy allows scripts from this server only.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
    persistAuthorization: false,
  });
})();
