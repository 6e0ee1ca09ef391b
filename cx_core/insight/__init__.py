"""What the data says: overview KPIs, drivers, trends, alerts, the HTML report and exports."""
