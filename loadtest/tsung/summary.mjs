console.log("summary todo")
