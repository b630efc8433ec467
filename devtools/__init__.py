"""Developer tooling kept outside the product apps (local fakes, the demo, scripts); product code never imports it."""
