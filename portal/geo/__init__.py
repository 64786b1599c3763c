"""Chile's regions and comunas (CUT codes) and the municipalities that use the portal."""
