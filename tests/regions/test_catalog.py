"""Catalog integrity: every figure has a source, prices are positive, names resolve, known facts hold."""

from __future__ import annotations

import csv

import pytest

from regions.catalog import DATA_DIR, UnknownName, load_catalog


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_every_offering_has_a_source_and_a_positive_price(catalog):
    assert len(catalog.offerings) > 1900  # of 2,947 rows; the rest are excluded with a reason
    for o in catalog.offerings:
        assert o.price_source and o.confidence in {"high", "medium", "low"}, o
        assert o.usd_per_hour > 0, o
        assert o.spot_usd_per_hour is None or o.spot_usd_per_hour > 0, o
        assert (o.spot_usd_per_hour is None) == (o.spot_basis is None), o
        assert o.accelerator_count >= 1


def test_every_offering_is_in_a_known_region_with_coordinates(catalog):
    for o in catalog.offerings:
        region = catalog.regions[f"{o.cloud}:{o.region}"]
        assert -90 <= region.latitude <= 90 and -180 <= region.longitude <= 180
        assert len(region.country_code) == 2


def test_every_data_row_is_either_offered_or_excluded_with_a_reason(catalog):
    with (DATA_DIR / "accelerators.csv").open() as handle:
        rows = sum(1 for _ in csv.DictReader(handle))
    assert len(catalog.offerings) + len(catalog.excluded) == rows
    assert all(e.reason for e in catalog.excluded)


def test_data_readme_lists_the_sources():
    readme = (DATA_DIR / "README.md").read_text()
    for name in ("accelerators.csv", "carbon.csv", "regions.csv", "accelerator_specs.csv", "aws_spot_advisor.csv"):
        assert name in readme
    assert "pue.csv" in readme and "service_prices.csv" in readme


@pytest.mark.parametrize(
    ("name", "memory_gib"),
    [("H200", 141), ("H100", 80), ("A100-80GB", 80), ("A100", 40), ("L4", 24), ("B200", 180), ("TPU v5e", 16)],
)
def test_known_accelerator_memory(catalog, name, memory_gib):
    assert catalog.specs[name].memory_gib == memory_gib


def test_known_prices_from_the_data_readme(catalog):
    def price(cloud, instance_type, region):
        (o,) = [o for o in catalog.offerings if (o.cloud, o.instance_type, o.region) == (cloud, instance_type, region)]
        return o.usd_per_hour

    assert price("aws", "p5.48xlarge", "us-east-1") == 55.04
    assert price("aws", "g6.xlarge", "us-east-1") == 0.8048
    assert price("gcp", "a3-highgpu-8g", "us-central1") == 88.49
    assert price("azure", "Standard_ND96isr_H100_v5", "eastus") == 98.32


def test_known_carbon_intensities(catalog):
    assert catalog.region("aws", "us-east-1").grid_gco2_per_kwh == 379.07
    assert catalog.region("aws", "eu-north-1").grid_gco2_per_kwh == 8.8
    assert catalog.region("gcp", "europe-north1").grid_gco2_per_kwh == 39.32
    assert catalog.region("aws", "ap-southeast-5").grid_gco2_per_kwh is None  # no source covers Malaysia


def test_pue_comes_from_the_data_file(catalog):
    assert {r.cloud: r.pue for r in catalog.regions.values()} == {"aws": 1.135, "gcp": 1.1, "azure": 1.185}


def test_azure_family_names_resolve_to_spec_variants(catalog):
    by_type = {o.instance_type: o.accelerator for o in catalog.offerings if o.cloud == "azure"}
    assert by_type["Standard_NC24ads_A100_v4"] == "A100-80GB-PCIe"
    assert by_type["Standard_ND96isr_H100_v5"] == "H100"
    assert by_type["Standard_NC40ads_H100_v5"] == "H100-NVL"


def test_gcp_mega_h100_is_the_sxm_part(catalog):
    assert {o.accelerator for o in catalog.offerings if o.instance_type == "a3-megagpu-8g"} == {"H100"}


def test_aws_spot_is_an_advisor_estimate(catalog):
    (o,) = [o for o in catalog.offerings if (o.instance_type, o.region) == ("g6.xlarge", "us-east-1")]
    with (DATA_DIR / "aws_spot_advisor.csv").open() as handle:
        (row,) = [r for r in csv.DictReader(handle) if (r["instance_type"], r["region"]) == ("g6.xlarge", "us-east-1")]
    assert o.spot_usd_per_hour == pytest.approx(0.8048 * (1 - int(row["spot_savings_pct"]) / 100))
    assert "Spot Instance Advisor" in o.spot_basis


def test_fractional_and_multi_host_rows_are_excluded(catalog):
    reasons = {(e.instance_type, e.reason) for e in catalog.excluded}
    assert any(t == "g6f.large" and "fractional" in r for t, r in reasons)
    assert any(t == "tpu-v5litepod-256" and "multi-host" in r for t, r in reasons)
    assert any(o.instance_type == "tpu-v5litepod-8" for o in catalog.offerings)


@pytest.mark.parametrize(
    ("partial", "fraction", "whole"),
    [
        ("Standard_NV6ads_A10_v5", "1/6", "Standard_NV36ads_A10_v5"),
        ("Standard_NV18ads_A10_v5", "1/2", "Standard_NV72ads_A10_v5"),
        ("Standard_NV4ads_V710_v5", "1/6", "Standard_NV24ads_V710_v5"),
    ],
)
def test_azure_gpu_partitions_are_never_whole_accelerators(catalog, partial, fraction, whole):
    """The price source counts a 1/6 vGPU slice as one GPU; placing it as an A10 would be untrue."""
    assert not any(o.instance_type == partial for o in catalog.offerings)
    reasons = {e.reason for e in catalog.excluded if e.instance_type == partial}
    assert reasons and all(f"fractional GPU partition ({fraction} of a GPU" in r for r in reasons)
    assert any(o.instance_type == whole for o in catalog.offerings)


def test_a_partition_that_is_not_a_fraction_is_a_data_error(tmp_path):
    for path in DATA_DIR.glob("*.csv"):
        (tmp_path / path.name).write_text(path.read_text())
    rows = (tmp_path / "gpu_partitions.csv").read_text().replace(",1/6,4,", ",6/6,4,", 1)
    (tmp_path / "gpu_partitions.csv").write_text(rows)
    with pytest.raises(ValueError, match=r"gpu_partitions.csv line 2: column 'gpu_fraction' is '6/6'"):
        load_catalog(tmp_path)


def test_every_sizeable_accelerator_has_complete_specs(catalog):
    for name, spec in catalog.specs.items():
        assert spec.memory_gib > 0 and spec.memory_bandwidth_gbps > 0 and spec.bf16_tflops > 0, name
    offered_with_spec = {o.accelerator for o in catalog.offerings} & set(catalog.specs)
    assert {"H100", "H200", "L4", "A10G", "Inferentia2", "TPU v5e", "TPU v6e"} <= offered_with_spec


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("h100", "H100"),
        ("tpu-v5e", "TPU v5e"),
        ("a100_80gb", "A100-80GB"),
        ("H100-MEGA", "H100"),
        ("inferentia2", "Inferentia2"),
    ],
)
def test_canonical_names(catalog, raw, canonical):
    assert catalog.canonical_accelerator(raw) == canonical


def test_unknown_accelerator_suggests_close_matches(catalog):
    with pytest.raises(UnknownName, match=r"unknown accelerator 'H110'; did you mean 'H100'"):
        catalog.canonical_accelerator("H110")


def test_unknown_region_suggests_close_matches(catalog):
    with pytest.raises(UnknownName, match=r"unknown aws region 'us-east-9'; did you mean .*'us-east-1'"):
        catalog.region("aws", "us-east-9")


def test_bad_data_file_names_file_line_and_column(tmp_path):
    for path in DATA_DIR.glob("*.csv"):
        (tmp_path / path.name).write_text(path.read_text())
    specs = (tmp_path / "accelerator_specs.csv").read_text().splitlines()
    specs[1] = specs[1].replace(",80,3350,", ",eighty,3350,", 1)
    (tmp_path / "accelerator_specs.csv").write_text("\n".join(specs) + "\n")
    with pytest.raises(
        ValueError, match=r"accelerator_specs.csv line 2: column 'memory_gib' is 'eighty'; expected a number"
    ):
        load_catalog(tmp_path)


def test_aws_offerings_carry_the_zones_that_offer_them(catalog):
    aws = [o for o in catalog.offerings if o.cloud == "aws"]
    assert aws and all(o.zones for o in aws)
    for o in aws:
        assert set(o.zones) <= set(catalog.zones[f"aws:{o.region}"]), o
    assert not any(o.zones for o in catalog.offerings if o.cloud == "azure")


def test_gcp_offerings_carry_zone_names_of_their_region(catalog):
    gcp = [o for o in catalog.offerings if o.cloud == "gcp"]
    assert gcp and all(o.zones for o in gcp)
    for o in gcp:
        assert all(zone.startswith(f"{o.region}-") for zone in o.zones), o
        assert set(o.zones) <= set(catalog.zones[f"gcp:{o.region}"]), o
    (tpu,) = [o for o in gcp if (o.instance_type, o.region) == ("tpu-v6e-8", "us-east5")]
    assert tpu.zones == ("us-east5-a", "us-east5-b", "us-east5-c")


def test_every_gcp_zone_row_names_a_gcp_row_of_the_price_data():
    with (DATA_DIR / "accelerators.csv").open() as handle:
        gcp_rows = {(r["instance_type"], r["region"]) for r in csv.DictReader(handle) if r["cloud"] == "gcp"}
    with (DATA_DIR / "gcp_zone_offerings.csv").open() as handle:
        zone_rows = list(csv.DictReader(handle))
    assert zone_rows
    for row in zone_rows:
        assert (row["instance_type"], row["region"]) in gcp_rows, row
        assert row["zone"].startswith(f"{row['region']}-"), row


def test_a_gcp_row_no_zone_offers_is_excluded_with_a_reason(tmp_path):
    for path in DATA_DIR.glob("*.csv"):
        (tmp_path / path.name).write_text(path.read_text())
    lines = (tmp_path / "gcp_zone_offerings.csv").read_text().splitlines()
    kept = [line for line in lines if not line.startswith("tpu-v5litepod-8,us-east5,")]
    assert len(kept) == len(lines) - 3
    (tmp_path / "gcp_zone_offerings.csv").write_text("\n".join(kept) + "\n")
    catalog = load_catalog(tmp_path)
    assert not any((o.instance_type, o.region) == ("tpu-v5litepod-8", "us-east5") for o in catalog.offerings)
    reasons = {(e.cloud, e.instance_type, e.region): e.reason for e in catalog.excluded}
    assert "no zone offers it" in reasons[("gcp", "tpu-v5litepod-8", "us-east5")]


def test_aws_types_no_zone_offers_are_excluded(catalog):
    reasons = {(e.instance_type, e.region): e.reason for e in catalog.excluded}
    assert "no availability zone offers it" in reasons[("p3.2xlarge", "us-east-1")]
    assert not any(o.instance_type.startswith("p3.") for o in catalog.offerings)


def test_aws_offers_only_what_eks_accelerated_amis_run(catalog):
    vendors = {
        catalog.specs[o.accelerator].vendor
        for o in catalog.offerings
        if o.cloud == "aws" and o.accelerator in catalog.specs
    }
    assert vendors == {"NVIDIA", "AWS"}
    assert any("Qualcomm" in e.reason for e in catalog.excluded if e.instance_type == "dl2q.24xlarge")


def test_every_azure_gpu_size_offered_has_a_sourced_temporary_disk_row_or_is_named(catalog):
    with (DATA_DIR / "azure_temp_disks.csv").open(newline="") as handle:
        rows = {row["vm_size"]: row for row in csv.DictReader(handle)}
    assert all(row["source_url"].startswith("https://github.com/MicrosoftDocs/") for row in rows.values())
    sizes = {o.instance_type for o in catalog.offerings if o.cloud == "azure"}
    # No Microsoft page gives these sizes' disks: their nodes hold what the OS disk holds.
    unsourced = {"Standard_NC8ads_A10_v4", "Standard_NC16ads_A10_v4", "Standard_NC32ads_A10_v4",
                 "Standard_ND96is_MI300X_v5", "Standard_ND96is_H100_v5",
                 "Standard_NV6s_v2", "Standard_NV12s_v2", "Standard_NV24s_v2"}  # fmt: skip
    assert sizes - set(rows) <= unsourced
    # Counted: one documented temporary disk that is not NVMe (AKS binds kubelet data to /mnt).
    counted = {
        size for size, row in rows.items()
        if row["temp_disk_gib"] and row["temp_disks"] == "1" and row["temp_disk_nvme"] != "yes"
    }  # fmt: skip
    assert set(catalog.temp_disks) == counted
    assert {"Standard_NC40ads_H100_v5", "Standard_NV12ads_V710_v5", "Standard_ND128isr_NDR_GB200_v6"}.isdisjoint(
        counted
    )
    assert catalog.temp_disks["Standard_ND96isr_H100_v5"] == 1024


def test_a_temporary_disk_row_that_is_not_whole_gib_is_a_data_error(tmp_path):
    for path in DATA_DIR.glob("*.csv"):
        (tmp_path / path.name).write_text(path.read_text())
    lines = (tmp_path / "azure_temp_disks.csv").read_text().splitlines()
    (line,) = [i for i, text in enumerate(lines) if text.startswith("Standard_ND96isr_H100_v5,")]
    lines[line] = lines[line].replace(",1024,1,", ",1024.5,1,", 1)
    (tmp_path / "azure_temp_disks.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=rf"azure_temp_disks.csv line {line + 1}: column 'temp_disk_gib' is 1024.5"):
        load_catalog(tmp_path)
    lines[line] = lines[line].replace(",1024.5,1,no,", ",1024,1,maybe,", 1)
    (tmp_path / "azure_temp_disks.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"column 'temp_disk_nvme' is 'maybe'; expected yes, no or not stated"):
        load_catalog(tmp_path)


def test_every_aws_accelerator_type_states_the_pods_an_eks_node_runs(catalog):
    with (DATA_DIR / "aws_max_pods.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert all(row["source_url"].startswith("https://github.com/aws/amazon-vpc-cni-k8s/blob/") for row in rows)
    types = {o.instance_type for o in catalog.offerings if o.cloud == "aws"}
    # Types the VPC CNI's file no longer lists (K80, M60 and Maxwell generations).
    unlisted = {"g2.2xlarge", "g2.8xlarge", "g3.16xlarge", "g3.4xlarge", "g3.8xlarge", "g3s.xlarge",
                "p2.16xlarge", "p2.8xlarge", "p2.xlarge"}  # fmt: skip
    assert types - {t for _, t in catalog.max_pods} <= unlisted
    assert catalog.max_pods[("aws", "g4dn.xlarge")] == 29


def test_a_pod_limit_that_is_not_a_whole_number_is_a_data_error(tmp_path):
    for path in DATA_DIR.glob("*.csv"):
        (tmp_path / path.name).write_text(path.read_text())
    lines = (tmp_path / "aws_max_pods.csv").read_text().splitlines()
    name, pods, rest = lines[1].split(",", 2)
    lines[1] = f"{name},{pods}.5,{rest}"
    (tmp_path / "aws_max_pods.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=rf"aws_max_pods.csv line 2: column 'max_pods' is {pods}.5; expected a whole"):
        load_catalog(tmp_path)
