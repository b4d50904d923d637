# Shared facts about a submission: what backend it targets, what the catalogues say about it, what
# it costs, which sandbox pays. Nothing here decides.
#
# Look-ups by a computed key use object.get: rego-cpp evaluates `data.x[key]` for a computed key by
# scanning every entry, object.get goes straight to it.
#
# Every rule in the bundle is a function of the policy input (`inp`), never a reader of `input`
# itself: only the entrypoint passes `input` in. Tests call the functions with fixture documents
# instead of `with input as`, which the embedded engine (rego-cpp) compiles slowly and, for whole
# inputs, crashes on.
package govern.lib

import rego.v1

levels := {"public": 0, "internal": 1, "confidential": 2, "restricted": 3}

# Unknown classifications count as restricted (fail closed).
level(classification) := object.get(levels, classification, 3)

spec(inp) := inp.experiment.spec

device(inp) := inp.experiment.spec.backend.device

vendor(inp) := inp.experiment.spec.backend.vendor

# Everything the rules need to know about the submission's backend, sandbox and vendor, worked out
# once per decision (rego-cpp does not memoise function calls, and charges about 20 µs for each call
# or built-in, so this body avoids both where it can) and handed to every area's rules.
facts(inp) := {
	"device": requested.device,
	"vendor": requested.vendor,
	"backend": entry,
	"class": backend_class(entry),
	"paid": paid_backend(entry),
	"region": region,
	"jurisdiction": object.get(data.govern.regions, region, "unknown"),
	"sandboxId": sandbox_id,
	"sandbox": object.get(inp.context.sandboxes, sandbox_id, null),
	"vendorRecord": object.get(inp.context.vendors, requested.vendor, null),
	"estimate": estimate(inp, entry),
} if {
	requested := inp.experiment.spec.backend
	catalogued := object.get(data.govern.backends, requested.device, {})
	entry := backend(inp)
	region := object.get(requested, "region", object.get(catalogued, "region", ""))
	sandbox_id := object.get(inp.experiment.spec, "sandbox", "")
}

# The catalogue entry of the device, or null when the device is unknown or the vendor does not match.
backend(inp) := entry if {
	entry := object.get(data.govern.backends, device(inp), null)
	entry.vendor == vendor(inp)
} else := null

paid_backend(entry) := true if {
	entry != null
	entry.paid == true
} else := false

# local_simulator | onprem | external | unknown (unknown is treated as external everywhere)
backend_class(entry) := entry.class if entry != null

else := "unknown"

stays_inside(f) if f["class"] in {"local_simulator", "onprem"}

leaves_premises(f) if not stays_inside(f)

jurisdiction(region) := object.get(data.govern.regions, region, "unknown")

# env:NAME or vault:path, one token with no spaces.
reference(value) if {
	startswith(value, "env:")
	count(value) > 4
	not contains(value, " ")
}

reference(value) if {
	startswith(value, "vault:")
	count(value) > 6
	not contains(value, " ")
}

week_ns := 604800000000000

day_ns := 86400000000000

# Cost estimate: the prices on record for the vendor (the context's vendor priceModel, set by
# procurement) else data.govern.pricing: a device's own price model, else its vendor's. One formula
# covers every model (per task, per shot, per second); a model sets only its own terms. The model
# travels with the estimate, so the dispatcher bills with the very prices the decision used.
estimate(inp, entry) := {
	"cost": round(cost(model, spec(inp).shots) * 100) / 100,
	"currency": data.govern.pricing.currency,
	"model": object.get(model, "model", "unknown"),
	"priceModel": model,
	"paid": entry.paid == true,
} if {
	entry != null
	model := price_model(inp)
} else := {"cost": 0, "currency": data.govern.pricing.currency, "model": "unknown", "priceModel": {}, "paid": false}

price_model(inp) := negotiated if {
	negotiated := object.get(object.get(inp.context.vendors, vendor(inp), {}), "priceModel", null)
	negotiated != null
} else := object.get(data.govern.pricing.devices, device(inp), object.get(data.govern.pricing.vendors, vendor(inp), {}))

cost(model, shots) := (object.get(model, "perTask", 0) + shots * object.get(model, "perShot", 0)) + (object.get(model, "baseSeconds", 0) + shots * object.get(model, "secondsPerShot", 0)) * object.get(model, "ratePerSecond", 0)
