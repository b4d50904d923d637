package govern.lib_test

import data.govern.lib
import data.govern.testdata_test as t

braket := t.put("/experiment/spec/backend", {"vendor": "aws-braket", "device": "ionq_aria"})

test_estimate_per_second_ibm if {
	# (2 s + 4000 shots * 0.00025 s) * 1.60 USD/s
	estimate := lib.estimate with input as t.paid
	estimate == {
		"cost": 4.8,
		"currency": "USD",
		"model": "per_second",
		"priceModel": {"model": "per_second", "ratePerSecond": 1.60, "baseSeconds": 2.0, "secondsPerShot": 0.00025},
		"paid": true,
	}
}

test_estimate_per_task_per_shot_braket if {
	# 0.30 USD per task + 4000 shots * 0.03 USD
	estimate := lib.estimate with input as json.patch(t.paid, [braket])
	estimate.cost == 120.3
	estimate.model == "per_task_per_shot"
}

test_estimate_uses_the_vendor_prices_on_record if {
	negotiated := {"model": "negotiated", "perTask": 1, "perShot": 0.001}
	inp := json.patch(t.paid, [t.add("/context/vendors/ibm/priceModel", negotiated)])
	estimate := lib.estimate with input as inp
	estimate.cost == 5 # 1 + 4000 * 0.001
	estimate.priceModel == negotiated
	estimate.model == "negotiated"
}

test_estimate_uses_the_price_list_on_record if {
	pricing := {"currency": "EUR", "vendors": {"ibm": {"model": "per_shot", "perShot": 0.5}}, "devices": {}}
	estimate := lib.estimate with input as t.paid
		with data.govern.pricing as pricing
	estimate == {
		"cost": 2000,
		"currency": "EUR",
		"model": "per_shot",
		"priceModel": {"model": "per_shot", "perShot": 0.5},
		"paid": true,
	}
}

test_estimate_free_on_local if {
	estimate := lib.estimate with input as t.local
	estimate == {"cost": 0, "currency": "USD", "model": "free", "priceModel": {"model": "free"}, "paid": false}
}

test_estimate_of_an_uncatalogued_backend_is_empty if {
	inp := json.patch(t.paid, [t.put("/experiment/spec/backend/vendor", "ionq")])
	estimate := lib.estimate with input as inp
	estimate == {"cost": 0, "currency": "USD", "model": "unknown", "priceModel": {}, "paid": false}
}

test_targets_are_the_backend_and_the_fallback if {
	inp := json.patch(t.local, [t.add("/experiment/spec/fallback", {"device": "ibm_brisbane"})])
	targets := lib.targets with input as inp
	targets == {
		{
			"role": "backend", "device": "aer_simulator", "class": "local_simulator", "catalogued": true,
			"resource": "spec.backend",
		},
		{
			"role": "fallback", "device": "ibm_brisbane", "class": "external", "catalogued": true,
			"resource": "spec.fallback.device",
		},
	}
}

test_an_uncatalogued_backend_is_unknown_and_free if {
	inp := json.patch(t.paid, [t.put("/experiment/spec/backend/device", "qc_pegasus_1")])
	lib.class == "unknown" with input as inp
	not lib.paid with input as inp
	not lib.catalogued with input as inp
}

test_the_region_is_the_manifests_else_the_catalogues if {
	lib.region == "us-east" with input as t.paid
	lib.jurisdiction == "us" with input as t.paid
	inp := json.patch(t.paid, [t.put("/experiment/spec/backend/region", "eu-de")])
	lib.jurisdiction == "eu" with input as inp
}

test_an_unknown_classification_counts_as_restricted if {
	lib.dataset_level == {0: 3} with input as t.paid_dataset({"classification": "top-secret"})
}
