# METADATA
# scope: package
# title: Shared facts
# description: >-
#   What every area's rules need to know about a submission, as rules over the policy input: the backend
#   it targets and what the catalogues say about it, its datasets, its sandbox and vendor records, and
#   what it costs. Each is worked out once per query. Nothing here decides.
package govern.lib

levels := {"public": 0, "internal": 1, "confidential": 2, "restricted": 3}

# Backend classes that keep data on the premises; every other class (unknown included) is external.
on_premises := {"local_simulator", "onprem"}

day_ns := 86400000000000

week_ns := 604800000000000

spec := input.experiment.spec

device := spec.backend.device

vendor := spec.backend.vendor

# The device's catalogue entry, defined only when the device is catalogued with the requested vendor.
backend := entry if {
	entry := data.govern.backends[device]
	entry.vendor == vendor
}

# local_simulator | onprem | external | unknown (a device that is not catalogued with its vendor).
default class := "unknown"

class := backend.class

default catalogued := false

catalogued if backend

default paid := false

paid if backend.paid == true

# The region the backend runs in: the one the manifest names, else the catalogue's for the device.
region := object.get(spec.backend, "region", object.get(data.govern.backends, [device, "region"], ""))

jurisdiction := object.get(data.govern.regions, region, "unknown")

# How messages name the requested backend.
backend_description := sprintf("device '%s' (vendor '%s', %s)", [device, vendor, class])

# Where the submission can run: the requested backend and, when the manifest names one, the fallback
# device. The fallback's class is its catalogue entry's (the manifest gives it no vendor).
targets contains {
	"role": "backend",
	"device": device,
	"class": class,
	"catalogued": catalogued,
	"resource": "spec.backend",
}

targets contains target if {
	fallback := spec.fallback.device
	target := {
		"role": "fallback",
		"device": fallback,
		"class": object.get(data.govern.backends, [fallback, "class"], "unknown"),
		"catalogued": is_object(object.get(data.govern.backends, fallback, null)),
		"resource": "spec.fallback.device",
	}
}

# Each dataset's label and level, by its index in spec.datasets. An unknown classification counts as
# restricted (fail closed).
dataset_label[i] := label if {
	some i, dataset in spec.datasets
	label := sprintf("%s/%s", [dataset.namespace, dataset.name])
}

dataset_level[i] := level if {
	some i, dataset in spec.datasets
	level := object.get(levels, dataset.classification, levels.restricted)
}

default sandbox_id := ""

sandbox_id := spec.sandbox

# The sandbox and vendor records the context holds for the submission, defined only when on record.
sandbox := input.context.sandboxes[sandbox_id]

vendor_record := input.context.vendors[vendor]

# The prices the estimate uses: the vendor's prices on record (set by procurement), else the device's
# list price (data.govern.pricing), else its vendor's.
list_prices := object.get(data.govern.pricing.devices, device, object.get(data.govern.pricing.vendors, vendor, {}))

negotiated_prices := vendor_record.priceModel if vendor_record.priceModel != null

default price_model := {}

price_model := negotiated_prices if backend

price_model := list_prices if {
	backend
	not negotiated_prices
}

# One term of the price model; a model sets only its own terms.
term(name) := object.get(price_model, name, 0)

# One formula covers every model (per task, per shot, per second), rounded to cents. An uncatalogued
# backend costs nothing: it is denied anyway. A catalogued one whose cost cannot be worked out leaves the
# estimate, and so the decision, undefined: govern denies that (fail closed).
cost := 0 if not backend

cost := round(total * 100) / 100 if {
	backend
	shots := spec.shots
	per_shot := term("perTask") + shots * term("perShot")
	per_second := (term("baseSeconds") + shots * term("secondsPerShot")) * term("ratePerSecond")
	total := per_shot + per_second
}

default price_model_name := "unknown"

price_model_name := price_model.model if backend

# The estimate names the price model it used, so the dispatcher bills with the very prices the decision used.
estimate := {
	"cost": cost,
	"currency": data.govern.pricing.currency,
	"model": price_model_name,
	"priceModel": price_model,
	"paid": paid,
}
