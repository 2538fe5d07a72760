"""The notebook GUI for Lander Lab, on ipywidgets and Plotly."""
