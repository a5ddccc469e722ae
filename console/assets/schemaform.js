// A form drawn from a JSON Schema (the pydantic-generated `parameters_schema` of a tool, a request's
// `response_schema`): one labelled control per property, the required ones marked, every value checked in the page
// before it is sent so that a person reads "At most 30" beside the field rather than a 422 after a round trip.
// The API stays the judge: showErrors() places its 422 `details` beside the same fields.
//
//   const form = createSchemaForm(schema, { idPrefix: "param" });
//   parent.append(form.element);
//   const { valid, value } = form.read();   // value: the object to send (empty optional fields left out)
//   form.showErrors(apiError.details, ["body", "parameters"]);
//
// Supported: string (enum → select; format date / date-time / uri / email; minLength, maxLength, pattern), number and
// integer (minimum, maximum, exclusive bounds, multipleOf), boolean (checkbox), nullable and optional fields
// (`anyOf: [X, {type: null}]`, a `default`), `$ref` into `$defs`/`definitions`, nested objects with properties
// (a fieldset), arrays of strings or numbers (one per line) and anything else (objects of any keys, arrays of
// objects, `{}`) as a JSON text area.

import { el } from "./dom.js";

let formCount = 0;

/** Resolves `$ref: "#/$defs/Name"` (or `#/definitions/...`) against the root schema, a few levels deep at most. */
function resolve(schema, root) {
  let current = schema || {};
  for (let depth = 0; depth < 8 && current && typeof current.$ref === "string"; depth += 1) {
    const path = current.$ref.replace(/^#\//, "").split("/").map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"));
    let target = root;
    for (const part of path) {
      target = target && typeof target === "object" ? target[part] : undefined;
    }
    const { $ref, ...rest } = current;
    current = { ...(target || {}), ...rest };
  }
  return current;
}

/** The schema of one property with its null alternative taken out: `{schema, nullable}`. */
function unwrap(schema, root) {
  let current = resolve(schema, root);
  let nullable = false;
  for (const key of ["anyOf", "oneOf"]) {
    if (Array.isArray(current[key])) {
      const options = current[key].map((option) => resolve(option, root));
      const others = options.filter((option) => option.type !== "null");
      nullable = others.length < options.length;
      if (others.length === 1) {
        const { [key]: _, ...rest } = current;
        current = {
          ...others[0], ...rest,
          title: rest.title || others[0].title, description: rest.description || others[0].description,
        };
      } else {
        current = { ...current, [key]: others };
      }
    }
  }
  if (Array.isArray(current.type)) {
    nullable = nullable || current.type.includes("null");
    const types = current.type.filter((type) => type !== "null");
    current = { ...current, type: types.length === 1 ? types[0] : types };
  }
  return { schema: current, nullable };
}

/** "created_from" → "Created from" when the schema has no title of its own. */
function labelFor(name, schema) {
  if (schema.title) {
    return schema.title;
  }
  const words = String(name).replace(/[_-]+/g, " ").replace(/([a-z])([A-Z])/g, "$1 $2").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A field's kind: the control drawn for it. */
function kindOf(schema) {
  if (Array.isArray(schema.enum)) {
    return "enum";
  }
  if (schema.const !== undefined) {
    return "const";
  }
  const type = Array.isArray(schema.type) ? null : schema.type;
  if (type === "string") {
    return ["date", "date-time"].includes(schema.format) ? schema.format : "string";
  }
  if (type === "integer" || type === "number" || type === "boolean") {
    return type;
  }
  if (type === "object" && schema.properties && Object.keys(schema.properties).length > 0) {
    return "object";
  }
  if (type === "array") {
    const items = schema.items || {};
    if (["string", "number", "integer"].includes(items.type) && !items.enum) {
      return "lines";
    }
  }
  return "json";
}

/** "2026-11-23T10:30" in the reader's zone → an ISO 8601 instant with an offset ("...Z"); null when not a date. */
function localToIso(text) {
  const at = new Date(text);
  return Number.isNaN(at.getTime()) ? null : at.toISOString();
}

/** An ISO 8601 instant → the value of a datetime-local input in the reader's zone (minutes precision). */
function isoToLocal(iso) {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) {
    return "";
  }
  const pad = (n) => String(n).padStart(2, "0");
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}`;
}

function numberChecks(schema, number, kind) {
  if (kind === "integer" && !Number.isInteger(number)) {
    return "Must be a whole number";
  }
  if (schema.minimum !== undefined && number < schema.minimum) {
    return `At least ${schema.minimum}`;
  }
  if (schema.maximum !== undefined && number > schema.maximum) {
    return `At most ${schema.maximum}`;
  }
  if (schema.exclusiveMinimum !== undefined && number <= schema.exclusiveMinimum) {
    return `More than ${schema.exclusiveMinimum}`;
  }
  if (schema.exclusiveMaximum !== undefined && number >= schema.exclusiveMaximum) {
    return `Less than ${schema.exclusiveMaximum}`;
  }
  if (schema.multipleOf && Math.abs(number / schema.multipleOf - Math.round(number / schema.multipleOf)) > 1e-9) {
    return `A multiple of ${schema.multipleOf}`;
  }
  return null;
}

function stringChecks(schema, text) {
  if (schema.minLength !== undefined && text.length < schema.minLength) {
    return `At least ${schema.minLength} character${schema.minLength === 1 ? "" : "s"}`;
  }
  if (schema.maxLength !== undefined && text.length > schema.maxLength) {
    return `At most ${schema.maxLength} characters`;
  }
  if (schema.pattern) {
    try {
      if (!new RegExp(schema.pattern, "u").test(text)) {
        return `Does not match the expected form (${schema.pattern})`;
      }
    } catch {
      // A pattern JavaScript cannot compile is left to the API.
    }
  }
  if (schema.format === "uri" && !/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(text)) {
    return "Must be a URL such as https://example.com/hook";
  }
  if (schema.format === "email" && !/^[^\s@]+@[^\s@]+$/.test(text)) {
    return "Must be an email address";
  }
  return null;
}

/**
 * One field: its element, and read() → {present, value, error} where `present` false means "leave it out".
 * `path` is the field's place in the value (["format"], ["approval", "title"]), used to match the API's details.
 */
function createField(name, rawSchema, root, required, path, ids) {
  const { schema, nullable } = unwrap(rawSchema, root);
  const kind = kindOf(schema);
  const id = `${ids}-${path.join("-")}`.replace(/[^A-Za-z0-9_-]/g, "_");
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const label = labelFor(name, schema);
  const hasDefault = schema.default !== undefined && schema.default !== null;
  const optional = !required;
  const message = el("p", { class: "field-error", id: errorId, hidden: true });
  const shownDefault = typeof schema.default === "string" ? schema.default : JSON.stringify(schema.default);
  const hintText = [schema.description, hasDefault && kind !== "boolean" ? `Default: ${shownDefault}` : null]
    .filter(Boolean).join(". ");
  const hint = hintText ? el("p", { class: "field-hint", id: hintId }, hintText) : null;
  const describedBy = [hint ? hintId : null, errorId].filter(Boolean).join(" ");
  const marker = required ? el("span", { class: "required-mark", "aria-hidden": "true" }, " *") : null;
  const optionalMark = optional ? el("span", { class: "optional-mark" }, " (optional)") : null;

  if (kind === "object") {
    const nested = createFields(schema, root, [...path], ids);
    const fieldset = el("fieldset", { class: "schema-fieldset" }, el("legend", {}, label, marker, optionalMark), hint,
      nested.elements, message);
    return {
      path, element: fieldset, fields: nested.fields,
      read() {
        const result = nested.read();
        const empty = Object.keys(result.value).length === 0;
        return { present: required || !empty, value: result.value, error: null, nestedValid: result.valid };
      },
      setError: (text) => setError(fieldset, message, text),
    };
  }

  let control;
  const common = { id, name: path.join("."), "aria-describedby": describedBy, "aria-required": required ? "true" : null };
  if (kind === "enum") {
    // A default stands for "not given": only a field without one offers an empty choice.
    control = el("select", common,
      hasDefault ? null : el("option", { value: "" }, optional ? "— any —" : "— choose —"),
      schema.enum.map((item) => el("option", { value: JSON.stringify(item) }, String(item))));
    control.value = hasDefault ? JSON.stringify(schema.default) : "";
  } else if (kind === "boolean") {
    control = el("input", { ...common, type: "checkbox", checked: schema.default === true });
  } else if (kind === "integer" || kind === "number") {
    control = el("input", {
      ...common, type: "number", inputmode: kind === "integer" ? "numeric" : "decimal",
      step: kind === "integer" ? String(schema.multipleOf || 1) : "any",
      min: schema.minimum ?? null, max: schema.maximum ?? null,
      value: hasDefault ? String(schema.default) : "",
    });
  } else if (kind === "date") {
    control = el("input", { ...common, type: "date", value: hasDefault ? String(schema.default) : "" });
  } else if (kind === "date-time") {
    control = el("input", { ...common, type: "datetime-local", value: hasDefault ? isoToLocal(schema.default) : "" });
  } else if (kind === "string") {
    const long = (schema.maxLength || 0) > 200 && schema.format !== "uri";
    const type = schema.format === "uri" ? "url" : schema.format === "email" ? "email" : "text";
    control = long
      ? el("textarea", { ...common, rows: 3, maxlength: schema.maxLength ?? null }, hasDefault ? String(schema.default) : "")
      : el("input", { ...common, type, maxlength: schema.maxLength ?? null, value: hasDefault ? String(schema.default) : "",
        spellcheck: type === "text" ? null : "false", autocomplete: "off" });
  } else if (kind === "lines") {
    control = el("textarea", { ...common, rows: 3 }, Array.isArray(schema.default) ? schema.default.join("\n") : "");
  } else if (kind === "const") {
    control = el("input", { ...common, type: "text", value: String(schema.const), readonly: true });
  } else {
    const placeholder = schema.type === "object" ? '{"key": "value"}' : "JSON, e.g. {\"ok\": true}";
    control = el("textarea", { ...common, rows: 4, class: "json-input", spellcheck: "false", placeholder },
      schema.default !== undefined ? JSON.stringify(schema.default, null, 2) : "");
  }

  const isCheckbox = kind === "boolean";
  const labelNode = el("label", { for: id }, label, marker, optionalMark);
  const element = el("div", { class: ["field", `field-${kind}`, isCheckbox ? "field-check" : null] },
    isCheckbox ? [control, labelNode] : [labelNode, control], hint, message);

  function readValue() {
    if (kind === "boolean") {
      return { present: true, value: control.checked };
    }
    const text = kind === "string" || kind === "lines" || kind === "json" ? control.value : control.value.trim();
    if (text.trim() === "") {
      if (required && !hasDefault) {
        return { error: kind === "enum" ? "Choose one" : "Required" };
      }
      return { present: false };
    }
    if (kind === "enum") {
      return { present: true, value: JSON.parse(text) };
    }
    if (kind === "integer" || kind === "number") {
      if (control.validity && control.validity.badInput) {
        return { error: "Must be a number" };
      }
      const number = Number(text);
      if (!Number.isFinite(number)) {
        return { error: "Must be a number" };
      }
      const problem = numberChecks(schema, number, kind);
      return problem ? { error: problem } : { present: true, value: number };
    }
    if (kind === "date") {
      return /^\d{4}-\d{2}-\d{2}$/.test(text) ? { present: true, value: text } : { error: "Must be a date (YYYY-MM-DD)" };
    }
    if (kind === "date-time") {
      const iso = localToIso(text);
      return iso ? { present: true, value: iso } : { error: "Must be a date and time" };
    }
    if (kind === "string") {
      const problem = stringChecks(schema, text);
      return problem ? { error: problem } : { present: true, value: text };
    }
    if (kind === "lines") {
      const items = text.split("\n").map((line) => line.trim()).filter(Boolean);
      if (schema.items.type !== "string") {
        const numbers = items.map(Number);
        const bad = numbers.findIndex((n) => !Number.isFinite(n) || (schema.items.type === "integer" && !Number.isInteger(n)));
        return bad >= 0 ? { error: `Line ${bad + 1} is not a ${schema.items.type === "integer" ? "whole " : ""}number` }
          : { present: true, value: numbers };
      }
      return { present: true, value: items };
    }
    if (kind === "const") {
      return { present: true, value: schema.const };
    }
    try {
      const value = JSON.parse(text);
      if (schema.type === "object" && (value === null || typeof value !== "object" || Array.isArray(value))) {
        return { error: "Must be a JSON object, e.g. {\"key\": \"value\"}" };
      }
      if (schema.type === "array" && !Array.isArray(value)) {
        return { error: "Must be a JSON array, e.g. [1, 2]" };
      }
      return { present: true, value };
    } catch (error) {
      return { error: `Not valid JSON: ${error.message}` };
    }
  }

  control.addEventListener("input", () => setError(control, message, null));
  control.addEventListener("change", () => setError(control, message, null));
  return {
    path, element, control,
    read() {
      const result = readValue();
      if (result.error) {
        setError(control, message, result.error);
        return { present: false, value: undefined, error: result.error };
      }
      setError(control, message, null);
      if (result.present === false && nullable && required) {
        return { present: true, value: null, error: null };
      }
      return { present: Boolean(result.present), value: result.value, error: null };
    },
    setError: (text) => setError(control, message, text),
  };
}

function setError(control, message, text) {
  if (text) {
    message.textContent = text;
    message.hidden = false;
    control.setAttribute("aria-invalid", "true");
  } else {
    message.textContent = "";
    message.hidden = true;
    control.removeAttribute("aria-invalid");
  }
}

function createFields(schema, root, path, ids) {
  const properties = schema.properties || {};
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  const fields = Object.entries(properties).map(([name, property]) =>
    createField(name, property, root, required.has(name), [...path, name], ids));
  return {
    fields,
    elements: fields.map((field) => field.element),
    read() {
      const value = {};
      let valid = true;
      for (const field of fields) {
        const result = field.read();
        if (result.error || result.nestedValid === false) {
          valid = false;
        }
        if (result.present) {
          value[field.path[field.path.length - 1]] = result.value;
        }
      }
      return { valid, value };
    },
  };
}

/** Every field of the form, nested ones included, flattened. */
function allFields(fields) {
  return fields.flatMap((field) => [field, ...(field.fields ? allFields(field.fields) : [])]);
}

/**
 * Whether `schema` can be drawn as a form: an object schema (also through `$ref`) with at least one property. Anything
 * else (a bare string or array schema, `{}`, an object of free keys) is answered as JSON by the caller.
 */
export function canDraw(schema) {
  if (!schema || typeof schema !== "object") {
    return false;
  }
  const top = unwrap(schema, schema).schema;
  // `properties` without a `type` still describes an object's keys (JSON Schema checks them on objects only).
  const objectLike = top.type === "object" || (top.type === undefined && top.properties);
  return Boolean(objectLike) && kindOf({ ...top, type: "object" }) === "object";
}

/**
 * Builds the form for `schema` (an object schema). Options: `idPrefix` (unique ids when a page holds several forms),
 * `emptyText` (shown when the schema has no properties).
 * Returns { element, read() → {valid, value}, showErrors(details, prefix) → the messages that matched no field,
 * focusFirstError(), isEmpty }.
 */
export function createSchemaForm(schema, options = {}) {
  formCount += 1;
  const ids = options.idPrefix || `schema${formCount}`;
  const root = schema || {};
  const top = unwrap(root, root).schema;
  const group = createFields(top, root, [], ids);
  const isEmpty = group.fields.length === 0;
  const element = el("div", { class: "schema-form" },
    isEmpty ? el("p", { class: "muted" }, options.emptyText || "No parameters.") : group.elements);

  function focusFirstError() {
    const invalid = element.querySelector("[aria-invalid='true']");
    if (invalid) {
      invalid.focus();
    }
    return Boolean(invalid);
  }

  return {
    element,
    isEmpty,
    read() {
      const result = group.read();
      return { valid: result.valid, value: result.value };
    },
    /** Places the API's 422 details ({loc, msg}) beside their fields; `prefix` is the loc before the form's own path. */
    showErrors(details, prefix = []) {
      const unmatched = [];
      const fields = allFields(group.fields);
      for (const detail of Array.isArray(details) ? details : []) {
        const loc = Array.isArray(detail.loc) ? detail.loc.map(String) : [];
        const starts = prefix.every((part, index) => loc[index] === String(part));
        const own = starts ? loc.slice(prefix.length) : null;
        const field = own && own.length ? fields.filter((item) => item.path.every((part, index) => own[index] === part))
          .sort((a, b) => b.path.length - a.path.length)[0] : null;
        if (field) {
          field.setError(detail.msg || "Invalid");
        } else {
          unmatched.push(detail);
        }
      }
      focusFirstError();
      return unmatched;
    },
    focusFirstError,
  };
}
