; ModuleID = "pool_grad"
target triple = "unknown-unknown-unknown"
target datalayout = ""

define internal void @"pool_grad.body"(ptr noalias %"g", ptr noalias %"x", ptr noalias %"grad", ptr noalias %"workspace", ptr %"args", i64 %"threads") nounwind
{
entry:
  %"r0.acc" = alloca double
  br label %"i.cond"
i.cond:
  %"i" = phi  i64 [0, %"entry"], [%"i.next", %"i.body"]
  %".9" = icmp slt i64 %"i", 9
  br i1 %".9", label %"i.body", label %"i.end"
i.body:
  %".11" = srem i64 %"i", 3
  %".12" = sdiv i64 %"i", 3
  %".13" = icmp slt i64 %".11", 0
  %".14" = zext i1 %".13" to i64
  %".15" = sub i64 %".12", %".14"
  %".16" = mul nuw nsw i64 %".15", 3
  %".17" = srem i64 %"i", 3
  %".18" = sdiv i64 %"i", 3
  %".19" = icmp slt i64 %".17", 0
  %".20" = add i64 %".17", 3
  %".21" = select  i1 %".19", i64 %".20", i64 %".17"
  %".22" = add nuw nsw i64 %".16", %".21"
  %".23" = getelementptr inbounds double, ptr %"grad", i64 %".22"
  store double              0x0, ptr %".23", align 8
  %"i.next" = add nuw nsw i64 %"i", 1
  br label %"i.cond"
i.end:
  br label %"i.cond.1"
i.cond.1:
  %"i.1" = phi  i64 [0, %"i.end"], [%"i.next.1", %"j.end"]
  %".27" = icmp slt i64 %"i.1", 2
  br i1 %".27", label %"i.body.1", label %"i.end.1"
i.body.1:
  br label %"j.cond"
i.end.1:
  ret void
j.cond:
  %"j" = phi  i64 [0, %"i.body.1"], [%"j.next", %"k.end"]
  %".30" = icmp slt i64 %"j", 2
  br i1 %".30", label %"j.body", label %"j.end"
j.body:
  br label %"k.cond"
j.end:
  %"i.next.1" = add nuw nsw i64 %"i.1", 1
  br label %"i.cond.1"
k.cond:
  %"k" = phi  i64 [0, %"j.body"], [%"k.next", %"l.end"]
  %".33" = icmp slt i64 %"k", 2
  br i1 %".33", label %"k.body", label %"k.end"
k.body:
  br label %"l.cond"
k.end:
  %"j.next" = add nuw nsw i64 %"j", 1
  br label %"j.cond"
l.cond:
  %"l" = phi  i64 [0, %"k.body"], [%"l.next", %"r0.end"]
  %".36" = icmp slt i64 %"l", 2
  br i1 %".36", label %"l.body", label %"l.end"
l.body:
  %".38" = add i64 %"i.1", %"k"
  %".39" = mul nuw nsw i64 %".38", 3
  %".40" = add i64 %"j", %"l"
  %".41" = add nuw nsw i64 %".39", %".40"
  %".42" = getelementptr inbounds double, ptr %"x", i64 %".41"
  %".43" = load double, ptr %".42", align 8
  store double 0xfff0000000000000, double* %"r0.acc"
  br label %"r0.cond"
l.end:
  %"k.next" = add nuw nsw i64 %"k", 1
  br label %"k.cond"
r0.cond:
  %"r0" = phi  i64 [0, %"l.body"], [%"r0.next", %"r0.body"]
  %".46" = icmp slt i64 %"r0", 4
  br i1 %".46", label %"r0.body", label %"r0.end"
r0.body:
  %".48" = srem i64 %"r0", 2
  %".49" = sdiv i64 %"r0", 2
  %".50" = icmp slt i64 %".48", 0
  %".51" = zext i1 %".50" to i64
  %".52" = sub i64 %".49", %".51"
  %".53" = add i64 %"i.1", %".52"
  %".54" = mul nuw nsw i64 %".53", 3
  %".55" = srem i64 %"r0", 2
  %".56" = sdiv i64 %"r0", 2
  %".57" = icmp slt i64 %".55", 0
  %".58" = add i64 %".55", 2
  %".59" = select  i1 %".57", i64 %".58", i64 %".55"
  %".60" = add i64 %"j", %".59"
  %".61" = add nuw nsw i64 %".54", %".60"
  %".62" = getelementptr inbounds double, ptr %"x", i64 %".61"
  %".63" = load double, ptr %".62", align 8
  %".64" = load double, double* %"r0.acc"
  %".65" = call double @"llvm.maximum.f64"(double %".64", double %".63")
  store double %".65", double* %"r0.acc"
  %"r0.next" = add nuw nsw i64 %"r0", 1
  br label %"r0.cond"
r0.end:
  %".68" = load double, double* %"r0.acc"
  %".69" = fcmp oeq double %".43", %".68"
  %".70" = mul nuw nsw i64 %"i.1", 2
  %".71" = add nuw nsw i64 %".70", %"j"
  %".72" = getelementptr inbounds double, ptr %"g", i64 %".71"
  %".73" = load double, ptr %".72", align 8
  %".74" = select  i1 %".69", double %".73", double              0x0
  %".75" = mul nuw nsw i64 %".38", 3
  %".76" = add nuw nsw i64 %".75", %".40"
  %".77" = getelementptr inbounds double, ptr %"grad", i64 %".76"
  %".78" = load double, ptr %".77", align 8
  %".79" = fadd double %".78", %".74"
  store double %".79", ptr %".77", align 8
  %"l.next" = add nuw nsw i64 %"l", 1
  br label %"l.cond"
}

declare double @"llvm.maximum.f64"(double %".1", double %".2")

define void @"kernel.pool_grad"(ptr %"args") nounwind
{
entry:
  %".3" = getelementptr i64, ptr %"args", i64 4
  %"threads" = load i64, ptr %".3"
  %".4" = getelementptr ptr, ptr %"args", i64 0
  %"g" = load ptr, ptr %".4"
  %".5" = getelementptr ptr, ptr %"args", i64 1
  %"x" = load ptr, ptr %".5"
  %".6" = getelementptr ptr, ptr %"args", i64 2
  %"grad" = load ptr, ptr %".6"
  %".7" = getelementptr ptr, ptr %"args", i64 3
  %"workspace" = load ptr, ptr %".7"
  call void @"pool_grad.body"(ptr %"g", ptr %"x", ptr %"grad", ptr %"workspace", ptr %"args", i64 %"threads")
  ret void
}
