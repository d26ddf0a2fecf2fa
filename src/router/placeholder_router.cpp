namespace porthole {}  // TEMPORARY placeholder so the layer has a source
