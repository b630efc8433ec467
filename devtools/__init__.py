"""Developer tooling kept outside the product apps (local fakes, scripts); product code never imports it."""
