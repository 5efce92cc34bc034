// What a person has typed into a long form survives a switch of language.
//
// The language switch is a form of its own (POST /language, then back to the page), so without this the
// page comes back in the other language with its fields empty. Every page works without it: this only
// keeps, in the tab's own sessionStorage and for a few minutes, the fields of a form marked
// `data-kept-across-languages`, and puts them back once when the same form is shown again. Hidden
// fields (tokens), files (a browser never fills a file input) and fields marked `data-not-kept` (the
// honeypot) are left alone; nothing is sent anywhere.
(function () {
  "use strict";
  var PREFIX = "ideaflow:typed:";
  var KEPT_FOR_MS = 10 * 60 * 1000;
  var SKIPPED = { hidden: true, file: true, submit: true, button: true, reset: true, image: true };

  function keptForms() {
    return document.querySelectorAll("form[data-kept-across-languages]");
  }

  function keptFields(form) {
    return Array.prototype.filter.call(form.elements, function (field) {
      return field.name && !SKIPPED[field.type] && !field.closest("[data-not-kept]");
    });
  }

  function save() {
    Array.prototype.forEach.call(keptForms(), function (form) {
      var values = {};
      keptFields(form).forEach(function (field) {
        if (field.type === "radio" || field.type === "checkbox") {
          if (field.checked) values[field.name] = field.value;
        } else {
          values[field.name] = field.value;
        }
      });
      sessionStorage.setItem(PREFIX + form.getAttribute("action"), JSON.stringify({ at: Date.now(), values: values }));
    });
  }

  function restore() {
    Array.prototype.forEach.call(keptForms(), function (form) {
      var key = PREFIX + form.getAttribute("action");
      var kept = JSON.parse(sessionStorage.getItem(key) || "null");
      sessionStorage.removeItem(key);
      if (!kept || Date.now() - kept.at > KEPT_FOR_MS) return;
      keptFields(form).forEach(function (field) {
        if (!Object.prototype.hasOwnProperty.call(kept.values, field.name)) {
          if (field.type === "radio" || field.type === "checkbox") field.checked = false;
          return;
        }
        if (field.type === "radio" || field.type === "checkbox") {
          field.checked = field.value === kept.values[field.name];
        } else {
          field.value = kept.values[field.name];
        }
      });
    });
  }

  function guarded(step) {
    return function (event) {
      try {
        step(event);
      } catch (error) {
        // No sessionStorage (a private window that refuses it, a full quota): the switch works as without script.
      }
    };
  }

  document.addEventListener("submit", guarded(function (event) {
    if (event.target.getAttribute("action") === "/language") save();
  }));
  guarded(restore)();
})();
