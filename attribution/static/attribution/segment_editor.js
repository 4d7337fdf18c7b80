/* The segment rule editor of the admin.
 *
 * One source of truth: the JSON definition in the form's "Rules as JSON" box, which is
 * all the form posts. The editor draws that tree as conditions and groups, and every
 * change made in it is written straight back into the box; typing in the box redraws
 * the editor. A value is re-read only when its own input is changed, so anything the
 * person does not touch is posted exactly as it was stored, with its type.
 */
(function () {
  "use strict";

  const vocab = JSON.parse(document.getElementById("segment-vocabulary").textContent);
  const box = document.getElementById("id_definition");
  const editor = document.getElementById("segment-editor");
  if (!box || !editor) return;
  const advanced = document.getElementById("segment-advanced");
  const jsonError = document.getElementById("segment-json-error");
  const estimateButton = document.getElementById("segment-estimate");
  const estimated = document.getElementById("estimated-size");

  const KINDS = [
    ["trait", "Profile trait"],
    ["fact", "Computed fact"],
    ["computed", "Computed trait"],
    ["event", "Did an event"],
    ["channel", "Seen on a channel"],
    ["segment", "In another segment"],
  ];
  const KEYS = {
    trait: ["trait", "op", "value"],
    fact: ["fact", "op", "value"],
    computed: ["computed", "op", "value"],
    event: ["event", "did", "at_least", "within_days", "where"],
    channel: ["channel"],
    segment: ["segment", "member"],
  };
  const COMPARISONS = ["gt", "gte", "lt", "lte", "between"];
  const facts = Object.fromEntries(vocab.facts.map((f) => [f.key, f]));
  const computedTraits = vocab.computed || [];
  const computed = Object.fromEntries(computedTraits.map((t) => [t.key, t]));
  // What a fact or computed-trait rule compares: its label, type and unit.
  function typedOf(kind, node) {
    if (kind === "fact") return facts[node.fact];
    if (kind === "computed") return computed[node.computed];
    return undefined;
  }
  const eventNames = vocab.events.map((e) => e.name);

  // The box moves into the "advanced" section; without JavaScript it stays where it is.
  const row = box.closest(".form-row") || box.parentElement;
  advanced.appendChild(row);

  let model = null;
  let loaded = true;
  try {
    model = parse(box.value);
  } catch (error) {
    loaded = false; // the text posted stays as it was, beside its error
  }
  let errorAt = null; // [path, message] of the last error the server named

  function parse(text) {
    if (!text || !text.trim()) return null;
    const value = JSON.parse(text);
    return value === null ? null : value;
  }

  function write() {
    box.value = model === null ? "" : JSON.stringify(model, null, 2);
    jsonError.hidden = true;
  }

  // --- small DOM helpers ---------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function select(role, label, options, current, onchange) {
    const s = el("select", { "data-role": role, "aria-label": label, onchange: () => onchange(s.value) });
    let found = false;
    for (const [value, text] of options) {
      const o = el("option", { value: String(value) }, text);
      if (String(value) === String(current)) {
        o.selected = true;
        found = true;
      }
      s.append(o);
    }
    if (!found && current !== undefined && current !== null && current !== "") {
      const o = el("option", { value: String(current) }, `${current} (unknown)`);
      o.selected = true;
      s.prepend(o);
    }
    return s;
  }

  function datalist(id, values) {
    if (document.getElementById(id)) return id;
    const list = el("datalist", { id });
    for (const v of values) list.append(el("option", { value: v }));
    document.body.append(list);
    return id;
  }

  function button(text, role, onclick) {
    return el("button", { type: "button", class: "button", "data-role": role, onclick }, text);
  }

  // --- values, with their types ----------------------------------------------------
  function typeOf(value) {
    if (typeof value === "number") return "number";
    if (typeof value === "boolean") return "boolean";
    return "text";
  }

  function read(text, type) {
    if (type === "boolean") return text === "true";
    if (type === "number") {
      const trimmed = text.trim();
      const n = Number(trimmed);
      return trimmed !== "" && Number.isFinite(n) ? n : text; // the server names a non-number
    }
    return text;
  }

  function scalarInput(role, label, value, type, onvalue) {
    if (type === "boolean") {
      return select(role, label, [["true", "yes (true)"], ["false", "no (false)"]], String(value), (v) =>
        onvalue(v === "true"),
      );
    }
    const input = el("input", {
      type: "text",
      "data-role": role,
      "aria-label": label,
      inputmode: type === "number" ? "decimal" : undefined,
      value: value === undefined || value === null ? "" : String(value),
    });
    input.addEventListener("input", () => onvalue(read(input.value, type)));
    return input;
  }

  // A value editor with a type picker where the type is free (traits, properties).
  function typedValue(role, label, value, onvalue, fixedType) {
    const wrap = el("span", { class: "seg-value" });
    let type = fixedType || typeOf(value);
    const draw = () => {
      wrap.replaceChildren();
      wrap.append(scalarInput(role, label, value, type, (v) => { value = v; onvalue(v); }));
      if (!fixedType) {
        wrap.append(
          select(`${role}-type`, `${label}: type`, [["text", "text"], ["number", "number"], ["boolean", "yes / no"]], type, (t) => {
            type = t;
            value = t === "boolean" ? true : read(value === undefined || value === null ? "" : String(value), t);
            onvalue(value);
            draw();
          }),
        );
      }
    };
    draw();
    return wrap;
  }

  function listValue(label, values, onvalue, fixedType) {
    const types = new Set(values.map(typeOf));
    let type = fixedType || (types.size === 1 ? [...types][0] : "text");
    const wrap = el("span", { class: "seg-value" });
    const input = el("input", {
      type: "text", "data-role": "value", "aria-label": `${label} (separated by commas)`,
      value: values.map(String).join(", "),
    });
    const parseAll = () =>
      input.value.split(",").map((p) => p.trim()).filter((p) => p !== "").map((p) => read(p, type));
    input.addEventListener("input", () => onvalue(parseAll()));
    wrap.append(input);
    if (!fixedType) {
      wrap.append(select("value-type", `${label}: type`, [["text", "text"], ["number", "number"]], type, (t) => {
        type = t;
        onvalue(parseAll());
      }));
    }
    return wrap;
  }

  // --- rules -----------------------------------------------------------------------
  function kindOf(node) {
    if (!node || typeof node !== "object" || Array.isArray(node)) return null;
    for (const [kind] of KINDS) {
      if (kind in node) {
        return Object.keys(node).every((k) => KEYS[kind].includes(k)) ? kind : null;
      }
    }
    return null;
  }

  function isGroup(node) {
    return node && typeof node === "object" && !Array.isArray(node) && Object.keys(node).length === 1 &&
      (Array.isArray(node.all) || Array.isArray(node.any));
  }

  function isNot(node) {
    return node && typeof node === "object" && !Array.isArray(node) && Object.keys(node).length === 1 && "not" in node;
  }

  function newRule(kind) {
    switch (kind) {
      case "trait": return { trait: vocab.traits[0] || "", op: "equals", value: "" };
      case "fact": return { fact: "order_count", op: "gte", value: 1 };
      case "computed": {
        const first = computedTraits[0];
        return first && first.type === "number"
          ? { computed: first.key, op: "gte", value: 1 }
          : { computed: first ? first.key : "", op: "equals", value: "" };
      }
      case "event": return { event: eventNames[0] || "", did: true };
      case "channel": return { channel: vocab.channels[0] || "" };
      default: return { segment: vocab.segments.length ? vocab.segments[0].id : null, member: true };
    }
  }

  function opsFor(kind, node) {
    if (kind === "fact" || kind === "computed") {
      const typed = typedOf(kind, node);
      return typed && typed.type === "number" ? vocab.number_ops : vocab.text_ops;
    }
    return Object.keys(vocab.ops);
  }

  function setOp(node, op) {
    const old = node.value;
    node.op = op;
    const kind = "fact" in node ? "fact" : "computed" in node ? "computed" : null;
    const numeric = kind ? (typedOf(kind, node) || {}).type === "number" : false;
    if (op === "is_set" || op === "not_set") delete node.value;
    else if (op === "between") node.value = Array.isArray(old) && old.length === 2 ? old : [0, 1];
    else if (op === "in") node.value = Array.isArray(old) ? old : old === undefined || old === "" ? [] : [old];
    else {
      let v = Array.isArray(old) ? old[0] : old;
      if (v === undefined) v = numeric || COMPARISONS.includes(op) ? 0 : "";
      if ((numeric || COMPARISONS.includes(op)) && typeof v !== "number") v = read(String(v), "number");
      node.value = v;
    }
  }

  function compareFields(kind, node, redraw) {
    const parts = [];
    const typed = typedOf(kind, node);
    const numeric = Boolean(typed) && typed.type === "number";
    parts.push(select("op", "Operator", opsFor(kind, node).map((op) => [op, vocab.ops[op]]), node.op, (op) => {
      setOp(node, op);
      changed();
      redraw();
    }));
    const fixed = numeric || COMPARISONS.includes(node.op) ? "number" : typed ? "text" : null;
    if (node.op === "between") {
      const pair = Array.isArray(node.value) ? node.value : [0, 1];
      parts.push(scalarInput("value-low", "From", pair[0], "number", (v) => { node.value = [v, pair[1]]; pair[0] = v; changed(); }));
      parts.push("and");
      parts.push(scalarInput("value-high", "To", pair[1], "number", (v) => { node.value = [pair[0], v]; pair[1] = v; changed(); }));
    } else if (node.op === "in") {
      parts.push(listValue("Values", Array.isArray(node.value) ? node.value : [], (v) => { node.value = v; changed(); }, numeric ? "number" : null));
    } else if (node.op !== "is_set" && node.op !== "not_set") {
      parts.push(typedValue("value", "Value", node.value, (v) => { node.value = v; changed(); }, fixed));
    }
    if (typed && typed.unit) {
      parts.push(el("span", { class: "seg-unit" }, typed.unit));
    }
    return parts;
  }

  function whereFields(node, redraw) {
    const box = el("div", { class: "seg-where" });
    const props = vocab.properties[node.event] || [];
    const known = Object.fromEntries(props.map((p) => [p.key, p.values]));
    const listId = datalist(`seg-props-${eventNames.indexOf(node.event)}`, props.map((p) => p.key));
    const where = node.where || {};
    Object.keys(where).forEach((key) => {
      const keyInput = el("input", { type: "text", "data-role": "where-key", "aria-label": "Property", list: listId, value: key });
      keyInput.addEventListener("change", () => {
        const renamed = {};
        for (const [k, v] of Object.entries(node.where)) renamed[k === key ? keyInput.value.trim() : k] = v;
        node.where = renamed;
        changed();
        redraw();
      });
      const seen = known[key] || [];
      box.append(el("div", { class: "seg-where-row" },
        "with", keyInput, "=",
        typedValue("where-value", `Value of ${key}`, where[key], (v) => { node.where[key] = v; changed(); }),
        seen.length ? el("span", { class: "seg-unit" }, `seen: ${seen.slice(0, 5).map((v) => JSON.stringify(v)).join(", ")}`) : null,
        button("×", "remove-where", () => {
          delete node.where[key];
          if (!Object.keys(node.where).length) delete node.where;
          changed();
          redraw();
        }),
      ));
    });
    box.append(button("+ property condition", "add-where", () => {
      const free = props.find((p) => !(p.key in where));
      const key = free ? free.key : `property${Object.keys(where).length + 1}`;
      const sample = free && free.values.length ? free.values[0] : "";
      node.where = { ...where, [key]: sample };
      changed();
      redraw();
    }));
    return box;
  }

  function numberBox(role, label, value, onvalue) {
    const input = el("input", { type: "text", class: "seg-short", inputmode: "numeric", "data-role": role, "aria-label": label, value: value === undefined ? "" : String(value) });
    input.addEventListener("input", () => {
      const text = input.value.trim();
      onvalue(text === "" ? undefined : read(text, "number"));
    });
    return input;
  }

  function ruleFields(kind, node, redraw) {
    if (kind === "trait") {
      const name = el("input", { type: "text", "data-role": "name", "aria-label": "Trait", list: datalist("seg-traits", vocab.traits), value: node.trait });
      name.addEventListener("input", () => { node.trait = name.value; changed(); });
      return [name, ...compareFields(kind, node, redraw)];
    }
    if (kind === "fact") {
      const options = vocab.facts.map((f) => [f.key, f.label]);
      return [
        select("name", "Fact", options, node.fact, (key) => {
          node.fact = key;
          const ops = opsFor("fact", node);
          setOp(node, ops.includes(node.op) ? node.op : ops[0]);
          changed();
          redraw();
        }),
        ...compareFields(kind, node, redraw),
      ];
    }
    if (kind === "computed") {
      const options = computedTraits.map((t) => [t.key, t.label]);
      // A key the JSON names that no active trait has is kept and offered as it is.
      if (node.computed && !computed[node.computed]) options.push([node.computed, `${node.computed} (not an active computed trait)`]);
      return [
        select("name", "Computed trait", options, node.computed, (key) => {
          node.computed = key;
          const ops = opsFor("computed", node);
          setOp(node, ops.includes(node.op) ? node.op : ops[0]);
          changed();
          redraw();
        }),
        ...compareFields(kind, node, redraw),
      ];
    }
    if (kind === "event") {
      const did = select("did", "Did or did not", [["true", "did"], ["false", "did not do"]], String(node.did !== false), (v) => {
        node.did = v === "true";
        changed();
      });
      // Picked from the events seen; a name typed in the JSON view that the data does
      // not know is kept, marked, and named in the message.
      const warn = el("span", { class: "seg-warn", hidden: true });
      const unknown = eventNames.length && node.event && !eventNames.includes(node.event);
      if (unknown) {
        const lower = node.event.toLowerCase();
        const close = eventNames.find((e) => e.toLowerCase().startsWith(lower.slice(0, 4)));
        warn.textContent = `No "${node.event}" event has been seen${close ? ` — did you mean "${close}"?` : ""}`;
        warn.hidden = false;
      }
      let name;
      if (eventNames.length) {
        const options = vocab.events.map((e) => [e.name, `${e.name} (${e.times.toLocaleString("en")} times)`]);
        name = select("name", "Event", options, node.event, (v) => { node.event = v; changed(); redraw(); });
      } else {
        name = el("input", { type: "text", "data-role": "name", "aria-label": "Event", value: node.event });
        name.addEventListener("input", () => { node.event = name.value; changed(); });
      }
      return [
        did, name,
        "at least", numberBox("at_least", "At least (times)", node.at_least, (v) => { setOptional(node, "at_least", v); changed(); }), "times",
        "in the last", numberBox("within_days", "In the last (days)", node.within_days, (v) => { setOptional(node, "within_days", v); changed(); }), "days",
        warn,
        whereFields(node, redraw),
      ];
    }
    if (kind === "channel") {
      return [select("name", "Channel", vocab.channels.map((c) => [c, c]), node.channel, (v) => { node.channel = v; changed(); })];
    }
    const member = select("member", "In or not in", [["true", "is in"], ["false", "is not in"]], String(node.member !== false), (v) => {
      node.member = v === "true";
      changed();
    });
    const segments = vocab.segments.map((s) => [s.id, s.name]);
    return [member, select("name", "Segment", segments, node.segment, (v) => { node.segment = Number(v); changed(); })];
  }

  function setOptional(node, key, value) {
    if (value === undefined) delete node[key];
    else node[key] = value;
  }

  // --- the tree --------------------------------------------------------------------
  // `place` is where a node sits in its parent: set(newNode) and remove().
  function drawNode(node, place, path, isRoot) {
    const negated = isNot(node) && (isGroup(node.not) || kindOf(node.not));
    const inner = negated ? node.not : node;
    const innerPath = negated ? `${path}.not` : path;
    const innerPlace = negated ? { set: (n) => place.set({ not: n }), remove: place.remove } : place;
    const toggleNot = el("label", { class: "seg-not" },
      el("input", { type: "checkbox", "data-role": "not", checked: negated || undefined, onchange: () => {
        place.set(negated ? inner : { not: inner });
        changed();
        draw();
      } }),
      " NOT");
    if (isGroup(inner)) return drawGroup(inner, innerPlace, innerPath, toggleNot, negated, isRoot, place);
    const kind = kindOf(inner);
    const rule = el("div", { class: "seg-rule", "data-path": innerPath, "data-kind": kind || "custom" });
    rule.append(toggleNot);
    if (!kind) {
      rule.classList.add("seg-custom");
      rule.append(el("code", {}, JSON.stringify(node)), el("span", { class: "seg-unit" }, "(edit in the JSON view)"));
    } else {
      const kinds = KINDS.filter(([k]) => k !== "computed" || computedTraits.length || kind === "computed");
      rule.append(select("kind", "Kind", kinds, kind, (k) => {
        innerPlace.set(newRule(k));
        changed();
        draw();
      }));
      const redraw = () => draw();
      rule.append(...ruleFields(kind, inner, redraw));
    }
    rule.append(button("Remove", "remove", () => { place.remove(); changed(); draw(); }));
    markError(rule, innerPath);
    return rule;
  }

  function drawGroup(group, place, path, toggleNot, negated, isRoot, outerPlace, virtual) {
    const join = "all" in group ? "all" : "any";
    const children = group[join];
    const box = el("div", { class: `seg-group${negated ? " seg-negated" : ""}`, "data-path": path });
    const head = el("div", { class: "seg-head" }, toggleNot,
      select("join", "Combine", [["all", "all of these (AND)"], ["any", "any of these (OR)"]], join, (j) => {
        place.set({ [j]: children });
        changed();
        draw();
      }));
    if (!isRoot) head.append(button("Remove group", "remove-group", () => { outerPlace.remove(); changed(); draw(); }));
    box.append(head);
    children.forEach((child, i) => {
      box.append(drawNode(child, {
        set: (n) => { children[i] = n; },
        remove: () => {
          children.splice(i, 1);
          if (!children.length && !isRoot) outerPlace.remove();
        },
      }, virtual && children.length === 1 ? path : `${path}.${join}[${i}]`, false));
    });
    box.append(el("div", { class: "seg-actions" },
      button("+ Condition", "add-condition", () => { children.push(newRule("event")); changed(); draw(); }),
      button("+ Group", "add-group", () => { children.push({ any: [newRule("event")] }); changed(); draw(); }),
    ));
    if (!virtual) markError(box, path);
    return box;
  }

  let syncWrapper = null;

  function draw() {
    editor.replaceChildren();
    syncWrapper = null;
    if (model !== null && isGroup(model)) {
      editor.append(drawNode(model, { set: (n) => { model = n; }, remove: () => { model = null; } }, "definition", true));
      return;
    }
    // A definition that is one rule (or none yet) is drawn inside an "all of" group,
    // written back as that rule alone while the group holds only it.
    let wrapper = { all: model === null ? [] : [model] };
    syncWrapper = () => {
      model = isGroup(wrapper) && "all" in wrapper && wrapper.all.length <= 1
        ? (wrapper.all.length ? wrapper.all[0] : null)
        : wrapper;
    };
    editor.append(drawGroup(wrapper, { set: (n) => { wrapper = n; } }, "definition", el("span"), false, true,
      { remove: () => { wrapper = { all: [] }; } }, true));
  }

  function changed() {
    if (syncWrapper) syncWrapper();
    errorAt = null;
    write();
  }

  function markError(element, path) {
    if (errorAt && errorAt[0] === path) {
      element.classList.add("seg-error");
      element.append(el("span", { class: "seg-message", role: "alert" }, errorAt[1]));
    }
  }

  // The deepest drawn place the server's field (definition.all[1].event) lies in.
  function showError(field, message) {
    const paths = [...editor.querySelectorAll("[data-path]")].map((n) => n.dataset.path);
    const best = paths.filter((p) => field === p || field.startsWith(`${p}.`) || field.startsWith(`${p}[`))
      .sort((a, b) => b.length - a.length)[0];
    errorAt = best ? [best, message] : null;
    draw();
    if (!best) {
      advanced.open = true;
    }
  }

  // --- the JSON box, the template picker, the estimate ------------------------------
  box.addEventListener("input", () => {
    try {
      model = parse(box.value);
      jsonError.hidden = true;
      draw();
    } catch (error) {
      jsonError.textContent = `The JSON is not valid yet (${error.message}); the editor shows the last valid rules.`;
      jsonError.hidden = false;
    }
  });

  const template = document.getElementById("id_start_from");
  if (template) {
    template.addEventListener("change", () => {
      const chosen = vocab.templates[template.value];
      if (!chosen) return;
      model = JSON.parse(JSON.stringify(chosen.definition));
      write();
      draw();
    });
  }

  function csrf() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  estimateButton.addEventListener("click", async () => {
    estimated.textContent = "Estimating…";
    const purpose = document.getElementById("id_purpose");
    const response = await fetch(editor.dataset.estimateUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ definition: model, purpose: purpose ? purpose.value : "", segment: editor.dataset.segment }),
    });
    const body = await response.json();
    if (!response.ok) {
      estimated.textContent = body.message;
      estimated.className = "seg-message";
      showError(body.field || "definition", body.message);
      return;
    }
    estimated.className = "";
    estimated.textContent = `Estimated size: ${body.size.toLocaleString("en")} profiles ` +
      `(${body.left_out_for_consent.toLocaleString("en")} left out for consent) — ${body.in_words}`;
    errorAt = null;
    draw();
  });

  if (loaded) write();
  else advanced.open = true;
  draw();

  // An error the server put beside the JSON box after a save is shown at its rule.
  const saved = row.querySelector(".errorlist");
  if (saved) {
    const text = saved.textContent.trim();
    const match = text.match(/^(definition[^:\s]*): /);
    if (match) showError(match[1], text);
    else advanced.open = true;
  }
})();
