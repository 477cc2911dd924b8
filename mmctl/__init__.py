"""mmctl: the operations toolkit around MM Rebate Bot."""
